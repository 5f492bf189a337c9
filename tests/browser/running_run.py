"""A production run caught mid-way, for the pages to show: the browser tier runs no scheduler,
so the run is written into the metadata DB as the scheduler and the Slurm operator leave it
while a stage waits on Slurm (its task running, its spec and plan in the task state store)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from lstflow.slurm.array_plan import SPEC_KEY, plan_key
from lstflow.ui import airflow_db

#: A job id sacct does not know: its elements stay "in Slurm" (queued or running).
UNKNOWN_JOB = "999999990"


@dataclass(frozen=True)
class RunningRun:
    run_id: str
    elements: int  # of the running stage
    done: int


@contextmanager
def running_run(
    dag_id: str, succeeded: Sequence[str], running: str, planned: bool = True
) -> Iterator[RunningRun]:
    """A new run of ``dag_id``: ``succeeded`` stages done, ``running`` running. ``planned``:
    it waits on Slurm with the newest run's plan of that stage where only the first element is
    done; else it has planned nothing yet. Deleted (with its task instances and stored state)
    on exit."""
    from airflow._shared.timezones import timezone
    from airflow.models.dagrun import DagRun
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import delete

    finished = airflow_db.runs_of(dag_id)[0]
    record = airflow_db.run_tasks(dag_id, finished.run_id)[running]
    assert record.spec is not None and record.plans, f"{running} of {finished.run_id}: no plan"
    spec, plan = record.spec, record.plans[-1]
    for element in plan.elements[1:]:
        element.final, element.job_id, element.state = False, UNKNOWN_JOB, None
    run_id = f"manual__running_{uuid.uuid4().hex[:8]}"
    states = {
        **dict.fromkeys(succeeded, TaskInstanceState.SUCCESS),
        running: TaskInstanceState.RUNNING,
    }
    stored = ((SPEC_KEY, spec.to_json()), (plan_key(spec), plan.to_json())) if planned else ()
    with create_session() as session:
        dag = SerializedDagModel.get_dag(dag_id, session=session)
        assert dag is not None, dag_id
        now = timezone.utcnow()
        run = dag.create_dagrun(
            run_id=run_id,
            run_after=now,
            start_date=now,
            conf={},
            run_type=DagRunType.MANUAL,
            triggered_by=DagRunTriggeredByType.TEST,
            state=DagRunState.RUNNING,
            session=session,
        )
        for ti in run.get_task_instances(session=session):
            ti.state = states.get(ti.task_id)
        for key, value in stored:
            session.add(
                TaskStateStoreModel(
                    dag_run_id=run.id,
                    task_id=running,
                    map_index=-1,
                    key=key,
                    dag_id=dag_id,
                    run_id=run_id,
                    value=json.dumps(value),
                )
            )
    try:
        yield (
            RunningRun(run_id, len(plan.elements), plan.completed())
            if planned
            else (RunningRun(run_id, 0, 0))
        )
    finally:
        with create_session() as session:
            session.execute(delete(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
