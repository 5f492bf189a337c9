"""lstflow's pages honour per-DAG rights (issue #15, attack 2), on a real api-server.

Two teams, each with its DAG bundle holding one production; Airflow in multi-team mode with
its simple auth manager, whose users carry teams (``alice:viewer:team_a``): Airflow itself
answers 403 to alice for team B's DAG. Before, lstflow's pages showed her team B's production
(README, config), its provenance.json, and listed it on the Productions page; ``dag_id`` could
also come from the query string. Now every page checks the DAG it shows.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support.airflow_stack import AirflowStack

from lstflow.productions.naming import dag_id_for

pytestmark = pytest.mark.reliability

TEAMS = ("team_a", "team_b")
PASSWORDS = {"alice": "alice-pw-1", "admin": "admin-pw-1"}
BUNDLE_DAG_FILE = """\
# Airflow DAG file of one team's bundle: that team's production library.
from pathlib import Path

from lstflow.productions.dag_factory import build_production_dags

globals().update(build_production_dags(Path({library!r})))
"""


@dataclass
class Deployment:
    stack: AirflowStack

    def get(self, path: str, user: str) -> tuple[int, str]:
        token = self.stack.token(user, PASSWORDS[user])
        request = urllib.request.Request(
            self.stack.url(path), headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")


def write_production(library: Path, prod_id: str) -> None:
    directory = library / prod_id
    directory.mkdir(parents=True)
    (directory / "lstchain_config.json").write_text("{}\n")
    (directory / "README.md").write_text(f"# {prod_id}\n\nREADME-OF-{prod_id}\n")
    config = {
        "workflow_kind": "lstchain",
        "prod_id": prod_id,
        "source_environment": {"source_file": f"{sys.prefix}/bin/activate"},
        "stages_to_run": ["merge_dl1"],
        "stages": {"merge_dl1": [{"input": "/data/in", "output": "/data/out.h5"}]},
    }
    (directory / "lstmcpipe_config.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("page-rights")
    bundles = []
    for team in TEAMS:
        library = root / "libraries" / team
        write_production(library, f"prod_{team}")
        folder = root / "bundles" / team
        folder.mkdir(parents=True)
        (folder / f"{team}_productions.py").write_text(BUNDLE_DAG_FILE.format(library=str(library)))
        bundles.append(
            {
                "name": f"bundle_{team}",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(folder)},
                "team_name": team,
            }
        )
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    stack = AirflowStack.create(
        root / "airflow",
        root / "unused-dags",
        {
            "AIRFLOW__CORE__MULTI_TEAM": "True",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "alice:viewer:team_a,admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__LSTFLOW__PARSE_CACHE_DIR": str(root / "cache"),
            # The pages read one library: both teams' productions, one bundle each.
            "AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS": str(root / "libraries"),
        },
    )
    stack.api_apps = "all"
    try:
        for team in TEAMS:
            stack.airflow("teams", "create", team)
        stack.airflow("dags", "reserialize")
        stack.start("api-server")
        yield Deployment(stack)
    finally:
        stack.close()


def test_airflow_itself_refuses_the_other_teams_dag(deployment: Deployment) -> None:
    assert deployment.get(f"/api/v2/dags/{dag_id_for('prod_team_a')}", "alice")[0] == 200
    assert deployment.get(f"/api/v2/dags/{dag_id_for('prod_team_b')}", "alice")[0] == 403


@pytest.mark.parametrize(
    "path",
    [
        "/lstflow/productions/prod_team_b",
        "/lstflow/productions/prod_team_b/provenance.json?run_id=manual__1",
        "/lstflow/productions/prod_team_b/plots/rf_importance.png",
        f"/lstflow/dags/{dag_id_for('prod_team_b')}",
        f"/lstflow/dags/{dag_id_for('prod_team_b')}/runs/manual__1",
        # a DAG id in the query string changes nothing
        f"/lstflow/productions/prod_team_b?dag_id={dag_id_for('prod_team_a')}",
    ],
)
def test_pages_of_the_other_teams_production_are_refused(deployment: Deployment, path: str) -> None:
    status, body = deployment.get(path, "alice")
    assert status == 403, body[:500]
    assert "README-OF-prod_team_b" not in body


def test_productions_page_lists_only_the_users_teams(deployment: Deployment) -> None:
    status, body = deployment.get("/lstflow/productions", "alice")
    assert status == 200
    assert "prod_team_a" in body and "prod_team_b" not in body
    status, body = deployment.get("/lstflow/productions", "admin")
    assert status == 200
    assert "prod_team_a" in body and "prod_team_b" in body


def test_own_teams_production_page_still_shows(deployment: Deployment) -> None:
    status, body = deployment.get("/lstflow/productions/prod_team_a", "alice")
    assert status == 200
    assert "README-OF-prod_team_a" in body
    status, body = deployment.get("/lstflow/productions/prod_team_b", "admin")
    assert status == 200
    assert "README-OF-prod_team_b" in body
