"""``SlurmJobSensor`` on the real cluster: it waits for a job array submitted by hand over SSH
(not by lstflow), through real Airflow (``dag.test()``), and judges it element by element."""

from __future__ import annotations

import shlex
import time
import uuid
from pathlib import Path

import pytest
from support.operator_dags import new_dag_id, run_sensor_dag

from lstflow.slurm.cluster_files import ClusterFiles
from lstflow.slurm.hook import SlurmHook
from lstflow.slurm.reports import SlurmReport
from lstflow.slurm.states import SlurmState

pytestmark = pytest.mark.cluster


def _sbatch_by_hand(remote_dir: str, name: str, body: str, array: str) -> str:
    """What a user (or lstosa) does: write a script and ``sbatch`` it in an SSH shell."""
    hook = SlurmHook()
    script = f"{remote_dir}/{name}.sh"
    ClusterFiles(hook).write(script, f"#!/bin/bash\n{body}\n")
    argv = [
        "sbatch", "--parsable", f"--array={array}", f"--job-name={name}", "--mem=50M",
        "--time=5", f"--output={remote_dir}/%A_%a.out", script,
    ]  # fmt: skip
    return hook.check(f"cd {shlex.quote(remote_dir)} && {shlex.join(argv)}").stdout.strip()


def test_sensor_waits_for_a_hand_submitted_array_by_name(airflow_db: Path, remote_dir: str) -> None:
    name = f"handmade_{uuid.uuid4().hex[:8]}"
    job_id = _sbatch_by_hand(remote_dir, name, "sleep 4", "0-2")
    started = time.monotonic()
    state, report = run_sensor_dag(new_dag_id("sensor"), job_names=[name], mode="wait_all")
    assert state == "success"
    assert time.monotonic() - started >= 4  # it waited for the jobs, it did not just look
    assert SlurmReport.from_json(report) == SlurmReport("stage", 3, 3, (job_id,))
    states = SlurmHook().element_states([job_id])
    assert {str(e): s.state for e, s in states.items()} == {
        f"{job_id}_{i}": SlurmState.COMPLETED for i in range(3)
    }


def test_fail_fast_fails_on_the_first_failed_element_with_its_report(
    airflow_db: Path, remote_dir: str
) -> None:
    body = 'if [ "$SLURM_ARRAY_TASK_ID" = 1 ]; then exit 7; fi; sleep 120'
    job_id = _sbatch_by_hand(remote_dir, f"failing_{uuid.uuid4().hex[:8]}", body, "0-1")
    hook = SlurmHook()
    try:
        started = time.monotonic()
        state, report = run_sensor_dag(new_dag_id("sensor"), job_ids=[job_id], mode="fail_fast")
        assert state == "failed"
        assert time.monotonic() - started < 100  # element 0 still sleeps: it did not wait
        judged = SlurmReport.from_json(report)
        (failed,) = judged.failed
        assert (failed.element, failed.state) == (f"{job_id}_1", "FAILED")
        assert (judged.total, judged.completed) == (2, 0)
        # The sensor does not own the jobs: element 0 is still running.
        live = hook.check(["squeue", "-h", "-j", job_id, "-o", "%i|%T"]).stdout
        assert f"{job_id}_0|RUNNING" in live
    finally:
        hook.cancel([job_id])
