"""Trigger rights are choices, never code or paths: the nightly DAG run by real Airflow
(``dag.test()``) on the local cluster with the confs of issue #15's attack 1.

Before, ``{"environment": "bash -c \\"id > /tmp/x\\""}`` ran before every job as the cluster
user, and ``dl1a_config=/etc/shadow``, ``rf_models_dir=/`` or ``mc_prod`` with ``../`` reached
the jobs. Now each such run ends before anything is submitted: nothing ran on the cluster (the
payload's marker is absent) and no job of the DAG is in Slurm.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.operator_dags import BUNDLES_VARIABLE, DAGS_FOLDER, _bundle, task_states
from support.slurm_counts import count_jobs_by_tag

from lstflow.slurm.hook import SlurmHook
from lstflow_dev import localcluster
from lstflow_dev import synthetic_onsite as synthetic

pytestmark = pytest.mark.reliability

NIGHT = dt.datetime(2020, 1, 17, tzinfo=dt.UTC)  # the synthetic tree's first night
NIGHTLY_DAG_FILE = """\
# An Airflow DAG file (the DagBag skips files that do not name airflow and dag).
from lstflow.nightly.night_dag import build_nightly_dag

dag = build_nightly_dag({dag_id!r})
"""


@pytest.fixture
def nightly_dag(
    slurm_cluster: localcluster.ClusterInfo,
    airflow_db: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Any, Path]]:
    """A nightly DAG of its own id on a synthetic onsite tree owned by the job user."""
    from airflow.dag_processing.dagbag import DagBag

    workdir = localcluster.make_workdir("trigger-rights")
    try:
        base = workdir / "onsite"
        synthetic.build_synthetic_tree(base)
        config = synthetic.write_settings(workdir / "config")
        user = localcluster.cluster_env()["SLURM_SSH_USER"]
        subprocess.run(["chown", "-R", f"{user}:", str(workdir)], check=True)
        monkeypatch.setenv("AIRFLOW__LSTFLOW__ONSITE_CONFIG", str(config))
        monkeypatch.setenv("AIRFLOW__LSTFLOW__ONSITE_BASE", str(base))
        monkeypatch.setenv("AIRFLOW__LSTFLOW__NIGHTLY_POLL_INTERVAL", "2")
        dags = airflow_db / "dags"
        dags.mkdir(exist_ok=True)
        dag_id = f"rel_nightly_{uuid.uuid4().hex[:8]}"
        dag_file = dags / f"{dag_id}.py"
        dag_file.write_text(NIGHTLY_DAG_FILE.format(dag_id=dag_id))
        dag = DagBag(dag_folder=str(dag_file)).dags[dag_id]
        monkeypatch.setenv(
            BUNDLES_VARIABLE,
            json.dumps([_bundle("dags-folder", DAGS_FOLDER), _bundle("tests", dags)]),
        )
        yield dag, workdir
    finally:
        localcluster.remove_workdir(workdir)


def attack_confs(marker: Path) -> list[dict[str, Any]]:
    payload = f"bash -c {shlex.quote(f'id > {marker}')}"
    return [
        {"environment": payload},
        {"dl1a_config": "/etc/shadow"},
        {"dl2_config": "/root/.ssh/id_rsa"},
        {"rf_models_dir": "/"},
        {"mc_prod": "../../../../etc/"},
        {"prod_id": "v0.12.3\nid > " + str(marker)},
    ]


@pytest.mark.parametrize("index", range(6))
def test_a_trigger_conf_cannot_run_code_or_read_paths_on_the_cluster(
    nightly_dag: tuple[Any, Path], index: int
) -> None:
    dag, workdir = nightly_dag
    marker = workdir / "pwned"
    conf = {"simulate": True, **attack_confs(marker)[index]}
    try:
        run = dag.test(logical_date=NIGHT, run_conf=conf)
    except Exception as error:  # the trigger's own param validation refused the conf
        assert "param" in str(error).lower() or "conf" in str(error).lower(), error
    else:
        assert str(run.state) == "failed"
        states = task_states(dag.dag_id, run.run_id)
        assert states["plan_night"] == "failed", states
    assert not marker.exists()
    assert count_jobs_by_tag(SlurmHook(), f"lstflow.{dag.dag_id}.") == {}
