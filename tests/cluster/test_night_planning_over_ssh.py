"""The nightly planner on an Airflow host that does not see the onsite tree.

The synthetic onsite tree lives on the cluster side only: in a directory owned by the cluster's
job user, hidden from the planning process by a mount namespace (an empty tmpfs over it), so
the planner can reach it only over SSH through ``ClusterFiles``. Every step of a simulate night
is planned there, through ``NightStepOperator`` as the DAG's tasks do, and must equal the plan
made from the local files; the SSH round trips of each planning are bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.night_planning import planned_night

from lstflow.nightly.step_operator import NIGHT_STEPS, RUN_STEPS, NightStepOperator
from lstflow.onsite.files import OnsiteFiles
from lstflow_dev import localcluster, synthetic_onsite
from lstflow_dev.local_onsite_files import LocalOnsiteFiles

pytestmark = pytest.mark.cluster

CHECKOUT = Path(__file__).resolve().parents[2]
# 2020-01-17 has its own calibration runs, 2020-01-18 borrows them (the look-back).
NIGHTS = (dt.date(2020, 1, 17), dt.date(2020, 1, 18))
#: plan_night: input listings, RunSummaries + RunCatalog, calibration listings, ``pro`` links.
PLAN_ROUND_TRIPS = 4
#: A step's planning: the night's plan, plus the tail-cut results (listing, read) and the RF
#: models listing for the steps that need them.
STEP_ROUND_TRIPS = PLAN_ROUND_TRIPS + 3


@pytest.fixture(scope="module")
def cluster_only_tree(slurm_cluster: localcluster.ClusterInfo) -> Iterator[Path]:
    """The synthetic tree, owned by the job user and closed to everyone else."""
    workdir = localcluster.make_workdir("night-planning-over-ssh")
    base = workdir / "onsite"
    synthetic_onsite.build_synthetic_tree(base)
    user = slurm_cluster.user
    subprocess.run(["chown", "-R", f"{user}:{user}", str(base)], check=True)
    base.chmod(0o700)
    yield base
    localcluster.remove_workdir(workdir)


@pytest.fixture(scope="module")
def onsite_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The onsite config stays on the Airflow side, as in a deployment."""
    return synthetic_onsite.write_settings(tmp_path_factory.mktemp("onsite-config"))


def _options(base: Path, config: Path) -> dict[str, str]:
    return {
        "AIRFLOW__LSTFLOW__ONSITE_CONFIG": str(config),
        "AIRFLOW__LSTFLOW__ONSITE_BASE": str(base),
        "AIRFLOW__LSTFLOW__JOB_PYTHON": "/envs/lstflow/bin/python",
    }


def plan_over_ssh(night: dt.date, base: Path, config: Path, result: Path) -> dict[str, Any]:
    """Plan in a process whose mount namespace hides ``base`` under an empty tmpfs."""
    env = {
        **os.environ,
        **_options(base, config),
        "PYTHONPATH": os.pathsep.join(str(CHECKOUT / d) for d in ("plugins", "dev", "tests")),
    }
    hide_and_run = 'mount -t tmpfs -o size=1m lstflow-hidden "$0" && exec "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", hide_and_run]
    argv += [str(base), sys.executable, "-m", "support.night_planning"]
    argv += [night.isoformat(), str(base), str(result)]
    process = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-4000:]
    data: dict[str, Any] = json.loads(result.read_text())
    return data


@pytest.mark.parametrize("night", NIGHTS, ids=str)
def test_a_night_planned_over_ssh_equals_the_plan_from_local_files(
    night: dt.date,
    cluster_only_tree: Path,
    onsite_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remote = plan_over_ssh(night, cluster_only_tree, onsite_config, tmp_path / "plan.json")

    for key, value in _options(cluster_only_tree, onsite_config).items():
        monkeypatch.setenv(key, value)

    def local_files(_operator: NightStepOperator) -> OnsiteFiles:
        return LocalOnsiteFiles()

    monkeypatch.setattr(NightStepOperator, "onsite_files", local_files)
    local = planned_night(night, lambda _operator: None)

    assert remote["plan"] == local["plan"]
    assert remote["plan"]["data_runs"], "the night has DATA runs to plan"
    assert remote["specs"] == local["specs"]
    assert {key.split(".")[0] for key in remote["specs"]} == {*NIGHT_STEPS, *RUN_STEPS}
    # Every planning is a handful of SSH round trips, whatever the night's runs and subruns.
    plan_trips, *step_trips = remote["round_trips"]
    assert plan_trips == PLAN_ROUND_TRIPS
    assert max(step_trips) <= STEP_ROUND_TRIPS, remote["round_trips"]
    # Each one is a ClusterFiles snippet (paths on stdin), never a per-file command.
    assert all(
        command.startswith(("{ while IFS=", "set -- ", "while IFS="))
        for command in remote["commands"]
    )
