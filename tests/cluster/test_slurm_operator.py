"""``SlurmArrayOperator`` in real Airflow (``dag.test()`` runs the deferral and the trigger
in-process) against the real cluster: retries of failed elements, OUT_OF_MEMORY and TIMEOUT
escalation, and jobs cancelled outside Airflow."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.operator_dags import new_dag_id, run_array_dag
from support.slurm_counts import count_jobs_by_tag

from lstflow.slurm.hook import SlurmHook
from lstflow.slurm.policy import RetryPolicy
from lstflow.slurm.states import SlurmState
from lstflow.workitems import ArraySpec, Resources, WorkItem

pytestmark = pytest.mark.cluster


def _spec(remote_dir: str, items: list[WorkItem], **fields: Any) -> ArraySpec:
    return ArraySpec(
        name="stage",
        items=tuple(items),
        log_dir=f"{remote_dir}/logs",
        workdir=remote_dir,
        **fields,
    )


def _elements(job_id: str, count: int) -> dict[int | None, SlurmState]:
    """Final states of ``count`` elements of ``job_id`` from sacct, waiting out its lag."""
    deadline = time.monotonic() + 30
    while True:
        rows = list(SlurmHook().element_states([job_id]).values())
        states = {row.element.index: row.state for row in rows if row.element.index is not None}
        if len(states) == count or time.monotonic() > deadline:
            return states
        time.sleep(1)


def test_only_failed_elements_are_resubmitted_and_task_succeeds(
    airflow_db: Path, remote_dir: str
) -> None:
    fails_once = 'test -e "$1" || { touch "$1"; echo "first attempt fails" >&2; exit 1; }'
    items = [
        WorkItem(f"item{i}", ("sh", "-c", fails_once if i in (1, 3) else "true", "sh", f"m{i}"))
        for i in range(5)
    ]
    dag_id = new_dag_id("operator")
    state, report = run_array_dag(dag_id, _spec(remote_dir, items, throttle=2))
    assert state == "success"
    assert report["completed"] == 5 and report["failed"] == []
    first, retry = report["job_ids"]
    first_states = _elements(first, 5)
    assert first_states[1] is first_states[3] is SlurmState.FAILED
    assert first_states[0] is first_states[2] is first_states[4] is SlurmState.COMPLETED
    assert _elements(retry, 2) == {1: SlurmState.COMPLETED, 3: SlurmState.COMPLETED}
    counts = count_jobs_by_tag(SlurmHook(), f"lstflow.{dag_id}.stage.")
    assert sorted(counts.values()) == [1, 1]  # two planned submissions, each sbatch'ed once


def test_out_of_memory_element_succeeds_after_memory_escalation(
    airflow_db: Path, remote_dir: str
) -> None:
    hog = "b = b'x' * (300 * 1024 * 1024)"
    items = [WorkItem("hog", ("python3", "-c", hog), Resources(mem="200M", time="5"))]
    state, report = run_array_dag(
        new_dag_id("operator"), _spec(remote_dir, items), RetryPolicy(memory_ceiling="1G")
    )
    assert state == "success"
    first, retry = report["job_ids"]
    # cgroup v1 gives a real OUT_OF_MEMORY; without it Slurm reports a SIGKILLed FAILED
    assert _elements(first, 1)[0] in (SlurmState.OUT_OF_MEMORY, SlurmState.FAILED)
    assert _elements(retry, 1)[0] is SlurmState.COMPLETED


def test_element_cancelled_outside_airflow_is_reported_cancelled(
    airflow_db: Path, remote_dir: str
) -> None:
    items = [WorkItem("sleeper", ("sleep", "120"), Resources(time="5"))]
    hook = SlurmHook()
    dag_id = new_dag_id("operator")
    cancelled: list[str] = []

    def cancel_when_running() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not cancelled:
            out = hook.check(["squeue", "--me", "-h", "-t", "RUNNING", "-o", "%F|%j"]).stdout
            for line in out.splitlines():
                job_id, name = line.split("|", 1)
                if name.startswith(f"lstflow.{dag_id}.stage."):
                    hook.cancel([job_id])
                    cancelled.append(job_id)
                    return
            time.sleep(1)

    watcher = threading.Thread(target=cancel_when_running, daemon=True)
    watcher.start()
    state, report = run_array_dag(dag_id, _spec(remote_dir, items))
    watcher.join(timeout=5)
    assert cancelled, "the test never saw the job running"
    assert state == "failed"
    (failure,) = report["failed"]
    assert failure["state"].startswith("CANCELLED by ")
    assert failure["command"] == "sleep 120"
    assert failure["attempts"] == 1  # CANCELLED is a human decision: never retried


def test_timed_out_element_succeeds_after_time_escalation(
    airflow_db: Path, remote_dir: str
) -> None:
    # --time=1 is enforced after 60-90 s on this cluster; 100 s fits in the doubled limit
    items = [WorkItem("slow", ("sleep", "100"), Resources(time="1"))]
    state, report = run_array_dag(
        new_dag_id("operator"), _spec(remote_dir, items), RetryPolicy(time_ceiling="00:05:00")
    )
    assert state == "success"
    first, retry = report["job_ids"]
    assert _elements(first, 1)[0] is SlurmState.TIMEOUT
    assert _elements(retry, 1)[0] is SlurmState.COMPLETED
