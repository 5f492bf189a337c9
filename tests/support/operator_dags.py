"""Run a ``SlurmArrayOperator`` or a production DAG through real Airflow (``dag.test()``) and
read back what a user would see: the task states and the operator's report (its XCom).

The DAG is written to a real file and loaded through a DagBag, as the dag-processor would.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lstflow.slurm.policy import PollSettings, RetryPolicy
from lstflow.workitems import ArraySpec

ARRAY_DAG_FILE = """\
import json
from datetime import datetime

from airflow.sdk import DAG

from lstflow.slurm.operator import SlurmArrayOperator
from lstflow.slurm.policy import PollSettings, RetryPolicy
from lstflow.workitems import ArraySpec

CONFIG = json.loads({config!r})
with DAG(CONFIG["dag_id"], schedule=None, start_date=datetime(2026, 1, 1)):
    SlurmArrayOperator(
        task_id="stage",
        array_spec=ArraySpec.from_json(CONFIG["spec"]),
        retry_policy=RetryPolicy(**CONFIG["retry"]),
        poll=PollSettings.from_json(CONFIG["poll"]),
        **CONFIG["operator"],
    )
"""
SENSOR_DAG_FILE = """\
import json
from datetime import datetime

from airflow.sdk import DAG

from lstflow.slurm.policy import PollSettings
from lstflow.slurm.sensor import SlurmJobSensor

CONFIG = json.loads({config!r})
with DAG(CONFIG["dag_id"], schedule=None, start_date=datetime(2026, 1, 1)):
    SlurmJobSensor(task_id="stage", poll=PollSettings.from_json(CONFIG["poll"]), **CONFIG["sensor"])
"""
BUNDLES_VARIABLE = "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
FAST_POLLING = PollSettings(poll_interval=1.0, max_poll_interval=3.0, sacct_grace_period=30.0)


def _bundle(name: str, path: Path) -> dict[str, Any]:
    classpath = "airflow.dag_processing.bundles.local.LocalDagBundle"
    return {"name": name, "classpath": classpath, "kwargs": {"path": str(path)}}


def new_dag_id(label: str) -> str:
    return f"rel_{label}_{uuid.uuid4().hex[:8]}"


def run_array_dag(
    dag_id: str,
    spec: ArraySpec,
    retry_policy: RetryPolicy | None = None,
    **operator_kwargs: Any,
) -> tuple[str, dict[str, Any]]:
    """A one-task DAG (task ``stage``) running ``spec``; returns (task state, report JSON)."""
    config = {
        "dag_id": dag_id,
        "spec": spec.to_json(),
        "retry": asdict(retry_policy or RetryPolicy()),
        "poll": FAST_POLLING.to_json(),
        "operator": operator_kwargs,
    }
    return _test_dag(dag_id, ARRAY_DAG_FILE.format(config=json.dumps(config)))


def run_sensor_dag(dag_id: str, **sensor_kwargs: Any) -> tuple[str, dict[str, Any]]:
    """A one-task DAG (task ``stage``) with a ``SlurmJobSensor``; returns (task state, report)."""
    config = {"dag_id": dag_id, "poll": FAST_POLLING.to_json(), "sensor": sensor_kwargs}
    return _test_dag(dag_id, SENSOR_DAG_FILE.format(config=json.dumps(config)))


def _test_dag(dag_id: str, text: str) -> tuple[str, dict[str, Any]]:
    """``dag.test()`` of the one-task DAG file ``text``: (state of ``stage``, its report)."""
    from airflow.dag_processing.dagbag import DagBag

    dags = Path(os.environ["AIRFLOW_HOME"]) / "dags"
    dags.mkdir(exist_ok=True)
    dag_file = dags / f"{dag_id}.py"
    dag_file.write_text(text)
    dag = DagBag(dag_folder=str(dag_file)).dags.get(dag_id)
    assert dag is not None, f"{dag_file} did not load"
    # dag.test() serializes the DAG from a configured bundle, which must hold its file.
    previous = os.environ.get(BUNDLES_VARIABLE)
    os.environ[BUNDLES_VARIABLE] = json.dumps(
        [_bundle("dags-folder", DAGS_FOLDER), _bundle("tests", dags)]
    )
    try:
        run = dag.test()
    finally:
        if previous is None:
            del os.environ[BUNDLES_VARIABLE]
        else:
            os.environ[BUNDLES_VARIABLE] = previous
    states = task_states(dag_id, run.run_id)
    return states["stage"], task_report(dag_id, run.run_id, "stage")


def task_states(dag_id: str, run_id: str) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id).all()
        return {row.task_id: str(row.state) for row in rows}


def run_note(dag_id: str, run_id: str) -> str | None:
    """The DAG run's note, as Airflow's UI shows it in the run list and the grid."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_id, run_id=run_id).one()
        note: str | None = run.note
        return note


def task_xcoms(dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id).all()
        )
        values = {row.key: row.value for row in rows}
    return {
        key: json.loads(value) if isinstance(value, str) else value for key, value in values.items()
    }


def task_report(dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    """The operator's final report: its return value on success, ``slurm_report`` on failure."""
    xcoms = task_xcoms(dag_id, run_id, task_id)
    report: dict[str, Any] = xcoms.get("return_value") or xcoms.get("slurm_report") or {}
    return report


def run_production_dag(dags_folder: Path, prod_id: str, conf: dict[str, Any]) -> tuple[str, str]:
    """Trigger production ``prod_id`` from the DAG files in ``dags_folder``; (run state, run id)."""
    from airflow.dag_processing.dagbag import DagBag

    from lstflow.productions.naming import dag_id_for

    dagbag = DagBag(str(dags_folder / "lstflow_productions.py"))
    dag = dagbag.dags.get(dag_id_for(prod_id))
    assert dag is not None, f"no DAG for {prod_id}: {dagbag.import_errors}"
    run = dag.test(run_conf=conf)
    return str(run.state), str(run.run_id)
