"""What the pages read from Airflow's metadata DB: DAG runs, task states, XComs, stored plans.

The api-server owns a DB session, so the pages read it directly (one query per kind of row)
instead of calling the REST API back over HTTP. Nothing here runs at DAG-parse time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow.models.dagrun import DagRun
from airflow.models.task_state_store import TaskStateStoreModel
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from sqlalchemy import func, or_, select

from lstflow.slurm.array_plan import PLAN_KEY_PREFIX, SPEC_KEY, ArrayPlan, read_plan, read_spec
from lstflow.workitems import ArraySpec


@dataclass(frozen=True)
class RunInfo:
    dag_id: str
    run_id: str
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    conf: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskRecord:
    """One task of a run: its state, its XComs by key, its stored Slurm plans and the spec
    (work items, with their keys) they run."""

    task_id: str
    state: str | None
    try_number: int
    xcoms: dict[str, Any] = field(default_factory=dict)
    plans: list[ArrayPlan] = field(default_factory=list)
    spec: ArraySpec | None = None


def _run_info(run: DagRun) -> RunInfo:
    return RunInfo(
        dag_id=run.dag_id,
        run_id=run.run_id,
        state=None if run.state is None else str(run.state),
        start_date=run.start_date,
        end_date=run.end_date,
        conf=dict(run.conf or {}),
    )


def latest_runs(dag_ids: Iterable[str]) -> dict[str, RunInfo]:
    """The newest run (by ``run_after``) of each DAG that has one."""
    wanted = list(dag_ids)
    if not wanted:
        return {}
    with create_session() as session:
        newest = (
            select(DagRun.dag_id, func.max(DagRun.run_after).label("run_after"))
            .where(DagRun.dag_id.in_(wanted))
            .group_by(DagRun.dag_id)
            .subquery()
        )
        rows = session.scalars(
            select(DagRun).join(
                newest,
                (DagRun.dag_id == newest.c.dag_id) & (DagRun.run_after == newest.c.run_after),
            )
        )
        return {run.dag_id: _run_info(run) for run in rows}


def runs_of(dag_id: str, limit: int = 20) -> list[RunInfo]:
    """The newest runs of a DAG, newest first."""
    with create_session() as session:
        rows = session.scalars(
            select(DagRun)
            .where(DagRun.dag_id == dag_id)
            .order_by(DagRun.run_after.desc())
            .limit(limit)
        )
        return [_run_info(run) for run in rows]


def run_exists(dag_id: str, run_id: str) -> bool:
    """Whether the metadata DB holds this run: checked before a page reads its cluster files,
    so made-up run ids cost no SSH connection."""
    with create_session() as session:
        found = session.scalar(
            select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id).limit(1)
        )
        return found is not None


def run_tasks(dag_id: str, run_id: str) -> dict[str, TaskRecord]:
    """Every (unmapped) task of a run with its XComs and the plans the Slurm operator stored."""
    with create_session() as session:
        records = {
            ti.task_id: TaskRecord(
                ti.task_id, None if ti.state is None else str(ti.state), int(ti.try_number or 0)
            )
            for ti in session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.run_id == run_id,
                    TaskInstance.map_index == -1,
                )
            )
        }
        xcoms = session.execute(
            select(XComModel.task_id, XComModel.key, XComModel.value).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.map_index == -1,
            )
        )
        for task_id, key, value in xcoms:
            if task_id in records:
                records[task_id].xcoms[key] = XComModel.deserialize_value(_Row(value))
        stored = session.execute(
            select(TaskStateStoreModel.task_id, TaskStateStoreModel.key, TaskStateStoreModel.value)
            .where(
                TaskStateStoreModel.dag_id == dag_id,
                TaskStateStoreModel.run_id == run_id,
                TaskStateStoreModel.map_index == -1,
                or_(
                    TaskStateStoreModel.key.startswith(PLAN_KEY_PREFIX),
                    TaskStateStoreModel.key == SPEC_KEY,
                ),
            )
            .order_by(TaskStateStoreModel.updated_at)
        )
        for task_id, key, value in stored:
            if task_id not in records:
                continue
            if key == SPEC_KEY:
                records[task_id].spec = read_spec(value)
            else:
                records[task_id].plans.append(read_plan(value))
        return records


def xcom_values(
    dag_id: str, task_id: str, key: str = "return_value", limit: int = 30
) -> list[tuple[RunInfo, Any]]:
    """A task's XCom over the newest runs of a DAG, newest first (runs without it left out)."""
    with create_session() as session:
        rows = session.execute(
            select(DagRun, XComModel.value)
            .join(XComModel, XComModel.dag_run_id == DagRun.id)
            .where(DagRun.dag_id == dag_id, XComModel.task_id == task_id, XComModel.key == key)
            .order_by(DagRun.run_after.desc())
            .limit(limit)
        )
        return [(_run_info(run), XComModel.deserialize_value(_Row(value))) for run, value in rows]


@dataclass(frozen=True)
class _Row:
    """``XComModel.deserialize_value`` reads ``.value`` of a result row."""

    value: Any
