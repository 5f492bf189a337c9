"""No secrets or foreign files through production configs (issue #15, attack 5).

Before, a production whose README.md was a symlink to ``/etc/shadow`` showed it to viewers on
the Productions page, an lstchain JSON symlinked to Airflow's simple-auth password file was
copied to the cluster, an output path holding ``${AIRFLOW__API_AUTH__JWT_SECRET}`` put the JWT
secret in a plot caption, and ``lstflow validate`` said ok to all of them. Here each is loaded
the three ways a deployment reads configs: ``lstflow validate`` (a real CLI process), a DagBag
of ``dags/`` (what the dag-processor builds) and the Productions page's rows. Each is refused
with its file and problem, the secret appears in none of them, and the good production still
loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag

from lstflow.productions.naming import dag_id_for

pytestmark = pytest.mark.reliability

CHECKOUT = Path(__file__).resolve().parents[2]
SECRET = "TOP-SECRET-5f2c1e"
JWT_VARIABLE = "AIRFLOW__API_AUTH__JWT_SECRET"


@dataclass(frozen=True)
class Leaky:
    prod_id: str
    config: Path
    problem: str


def production(root: Path, prod_id: str, output: str = "/data/out.h5") -> Path:
    directory = root / prod_id
    directory.mkdir(parents=True)
    (directory / "lstchain_config.json").write_text("{}\n")
    (directory / "README.md").write_text(f"# {prod_id}\n")
    config = {
        "workflow_kind": "lstchain",
        "prod_id": prod_id,
        "source_environment": {"source_file": f"{sys.prefix}/bin/activate"},
        "stages_to_run": ["merge_dl1"],
        "stages": {"merge_dl1": [{"input": "/data/in", "output": output}]},
    }
    path = directory / "lstmcpipe_config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, list[Leaky]]:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    shadow = secrets / "shadow"
    shadow.write_text(f"root:{SECRET}:19000:0:99999:7:::\n")
    passwords = secrets / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({"admin": SECRET}))
    root = tmp_path / "library"
    production(root, "good_prod")
    leaky = []

    readme = production(root, "readme_shadow")
    (readme.parent / "README.md").unlink()
    (readme.parent / "README.md").symlink_to(shadow)
    leaky.append(Leaky("readme_shadow", readme, "README.md is a symlink leading outside"))

    json_link = production(root, "json_passwords")
    (json_link.parent / "lstchain_config.json").unlink()
    (json_link.parent / "lstchain_config.json").symlink_to(passwords)
    leaky.append(
        Leaky("json_passwords", json_link, "lstchain_config.json is a symlink leading outside")
    )

    jwt = production(root, "jwt_output", output=f"/data/${{{JWT_VARIABLE}}}/out.h5")
    leaky.append(Leaky("jwt_output", jwt, f"'{JWT_VARIABLE}' may not be used in a config"))

    huge = production(root, "huge_readme")
    (huge.parent / "README.md").write_text("# huge\n" + "x" * (50 * 1024 * 1024))
    leaky.append(Leaky("huge_readme", huge, "more than the 262,144 allowed"))
    return root, leaky


@pytest.fixture
def airflow_environment(
    library: tuple[Path, list[Leaky]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    root, _ = library
    settings = {
        "AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS": str(root),
        "AIRFLOW__LSTFLOW__PARSE_CACHE_DIR": str(tmp_path / "cache"),
        JWT_VARIABLE: SECRET,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AIRFLOW__LSTFLOW__CONFIG_VARIABLES", raising=False)
    return settings


def test_validate_refuses_each_leak_and_prints_no_secret(
    library: tuple[Path, list[Leaky]], airflow_environment: dict[str, str]
) -> None:
    root, leaky = library
    result = subprocess.run(
        [sys.executable, "-m", "lstflow.cli", "validate", "--json", "--no-lstchain", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=CHECKOUT,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert SECRET not in result.stdout + result.stderr
    files = {Path(f["path"]): f for f in json.loads(result.stdout)["files"]}
    for case in leaky:
        texts = [error["text"] for error in files[case.config]["errors"]]
        assert not files[case.config]["ok"]
        assert any(str(case.config.parent) in t and case.problem in t for t in texts), texts
    assert files[root / "good_prod" / "lstmcpipe_config.yaml"]["ok"]


def test_no_dag_and_no_page_row_shows_a_leaky_production(
    library: tuple[Path, list[Leaky]], airflow_environment: dict[str, str], airflow_db: Path
) -> None:
    from lstflow.ui.views import productions_page

    _, leaky = library
    dagbag = DagBag(str(CHECKOUT / "dags"))
    assert dag_id_for("good_prod") in dagbag.dags
    # The JWT path is inside a stage entry: as every entry problem, its DAG is built from the
    # header and its stage fails before submitting; the errors DAG lists it meanwhile.
    assert {dag_id_for(case.prod_id) for case in leaky} & set(dagbag.dags) == {
        dag_id_for("jwt_output")
    }
    (errors,) = dagbag.import_errors.values()
    assert all(str(case.config) in errors for case in leaky)
    assert SECRET not in errors
    docs = "".join(dag.doc_md or "" for dag in dagbag.dags.values())
    assert SECRET not in docs and len(docs) < 1024 * 1024

    page = productions_page(set)  # a user who may read every DAG
    # The page lists the productions that have a DAG (#17: one with an invalid entry is listed
    # with its problem); the refused files are not rows, and no row shows the secret.
    assert [row.prod_id for row in page["rows"]] == ["good_prod", "jwt_output"]
    assert SECRET not in repr(page)
