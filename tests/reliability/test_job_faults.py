"""Job faults on the real local Slurm, each with its classification, retries and final report:
real sim_telarray input that lstchain 0.12.3 cannot read (through the r0_to_dl1 stage of a
production), OUT_OF_MEMORY beyond the memory ceiling, and the node drained mid-run.

TIMEOUT escalation and a job cancelled by hand are in tests/cluster/test_slurm_operator.py.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fault_table import record_fault
from support.operator_dags import new_dag_id, run_array_dag, run_production_dag, task_report
from support.slurm_counts import count_jobs_by_tag

from lstflow.productions.naming import dag_id_for
from lstflow.slurm.hook import SlurmHook
from lstflow.slurm.policy import RetryPolicy
from lstflow.workitems import ArraySpec, Resources, WorkItem
from lstflow_dev import localcluster, testdata

pytestmark = pytest.mark.reliability

CHECKOUT = Path(__file__).resolve().parents[2]
LSTCHAIN_CONFIG = (
    CHECKOUT
    / "include"
    / "production_configs"
    / "demo"
    / "lstflow_demo_dl1"
    / "lstchain_config_mc.json"
)
# lstchain 0.12.3 hard-codes the prod5 camera table name (data README): exit 1 after writing.
UNREADABLE_SIMTEL = "gamma_prod6_tel_event_header_v4.simtel.zst"


@pytest.fixture
def workdir(slurm_cluster: localcluster.ClusterInfo) -> Iterator[Path]:
    path = localcluster.make_workdir("job-faults")
    yield path
    localcluster.remove_workdir(path)


def give_to_job_user(path: Path) -> None:
    user = localcluster.cluster_env()["SLURM_SSH_USER"]
    subprocess.run(["chown", "-R", f"{user}:{user}", str(path)], check=True)


def test_unreadable_simtel_fails_after_retries_with_report_and_partial_outputs_aside(
    workdir: Path, tmp_path: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dl0 = workdir / "DL0"
    dl0.mkdir()
    (dl0 / "prod6_run1.simtel.zst").symlink_to(testdata.simtel_file(UNREADABLE_SIMTEL))
    log_root = workdir / "prod_logs"
    log_root.mkdir()
    give_to_job_user(workdir)
    prod_id = f"rel_bad_simtel_{uuid.uuid4().hex[:8]}"
    production = tmp_path / "library" / prod_id
    production.mkdir(parents=True)
    (production / "lstchain_config_mc.json").write_text(LSTCHAIN_CONFIG.read_text())
    config = {
        "workflow_kind": "lstchain",
        "prod_id": prod_id,
        "source_environment": {"source_file": f"{sys.prefix}/bin/activate"},
        "stages_to_run": ["r0_to_dl1"],
        "stages": {
            "r0_to_dl1": [
                {
                    "input": str(dl0),
                    "output": str(workdir / "DL1"),
                    "extra_slurm_options": {"partition": "short", "mem": "3G", "time": "00:20:00"},
                }
            ]
        },
    }
    (production / "lstmcpipe_config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(production.parent))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PARSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__LOG_ROOT", str(log_root))

    started = time.monotonic()
    state, run_id = run_production_dag(CHECKOUT / "dags", prod_id, {})

    assert state == "failed"
    report = task_report(dag_id_for(prod_id), run_id, "r0_to_dl1")
    (row,) = report["failed"]
    assert row["key"] == "r0_to_dl1[0].0"
    assert row["state"] == "FAILED" and row["exit_code"] == 1
    assert row["attempts"] == 3  # the first try and two element retries
    assert row["command"].startswith("python -m lstflow.jobs.batch ")
    assert "FAILED lstchain_mc_r0_to_dl1 --input-file=" in row["stderr_tail"]
    assert "1 files, 0 done, 0 skipped (output exists), 1 failed" in row["stderr_tail"]
    per_file_log = (workdir / "DL1" / "job_logs_r0_to_dl1" / "dl1_prod6_run1.h5.log").read_text()
    assert "LST_LSTCam" in per_file_log  # lstchain's own error, kept for the analyst
    # Every try's partial DL1 file was moved aside, none left where a good output would be.
    aside = sorted(p.name for p in (log_root / prod_id / "failed_outputs").iterdir())
    assert len(aside) == 6 and all(name.startswith("dl1_prod6_run1.h5.") for name in aside)
    assert not (workdir / "DL1" / "dl1_prod6_run1.h5").exists()
    counts = count_jobs_by_tag(SlurmHook(), f"lstflow.{dag_id_for(prod_id)}.r0_to_dl1.")
    assert sorted(counts.values()) == [1, 1, 1]  # three rounds, each sbatch'ed once
    record_fault(
        "input lstchain cannot read (real prod6 simtel)",
        finished=False,
        classification="FAILED exit 1, 3 attempts, partial outputs in failed_outputs",
        duplicates=sum(counts.values()) - len(counts),
        lost_items=0,
        seconds=time.monotonic() - started,
    )


def test_out_of_memory_beyond_the_ceiling_is_reported_after_escalation(
    workdir: Path, airflow_db: Path
) -> None:
    give_to_job_user(workdir)
    hog = "b = b'x' * (400 * 1024 * 1024)"
    spec = ArraySpec(
        "hog",
        (WorkItem("hog", ("python3", "-c", hog), Resources(mem="100M", time="5")),),
        log_dir=str(workdir / "logs"),
        workdir=str(workdir),
    )
    started = time.monotonic()
    dag_id = new_dag_id("oom")
    state, report = run_array_dag(dag_id, spec, RetryPolicy(memory_ceiling="200M"))
    counts = count_jobs_by_tag(SlurmHook(), f"lstflow.{dag_id}.stage.")

    assert state == "failed"
    (row,) = report["failed"]
    assert row["state"] == "OUT_OF_MEMORY"  # the shared cluster enforces memory with cgroups
    assert row["attempts"] == 2  # 100M, then 200M (the ceiling): no third try
    assert sorted(counts.values()) == [1, 1]
    assert row["command"] == shlex.join(("python3", "-c", hog))
    record_fault(
        "OUT_OF_MEMORY above the ceiling",
        finished=False,
        classification="OUT_OF_MEMORY, retried with --mem doubled up to the ceiling, then reported",
        duplicates=sum(counts.values()) - len(counts),
        lost_items=0,
        seconds=time.monotonic() - started,
    )


def scontrol(*args: str) -> None:
    env = {**os.environ, "SLURM_CONF": localcluster.cluster_env()["SLURM_CONF"]}
    subprocess.run(["scontrol", *args], check=True, env=env, capture_output=True, timeout=60)


def test_node_drained_mid_run_the_run_finishes_once_resumed(
    workdir: Path, airflow_db: Path
) -> None:
    """Drain the only node while one element runs and the other waits (throttle 1)."""
    give_to_job_user(workdir)
    node = localcluster.cluster_env()["SLURM_NODE"]
    items = tuple(
        WorkItem(f"nap{i}", ("sleep", "15"), Resources(mem="50M", time="5")) for i in range(2)
    )
    spec = ArraySpec("nap", items, str(workdir / "logs"), str(workdir), throttle=1)
    dag_id = new_dag_id("drain")
    hook = SlurmHook()
    drained: list[float] = []

    def drain_while_running() -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            out = hook.check(["squeue", "--me", "-h", "-t", "RUNNING", "-o", "%j"]).stdout
            if f"lstflow.{dag_id}." in out:
                scontrol("update", f"nodename={node}", "state=drain", "reason=lstflow-reltest")
                drained.append(time.monotonic())
                try:
                    time.sleep(25)  # the running element ends; the pending one must wait
                finally:
                    scontrol("update", f"nodename={node}", "state=resume")
                return
            time.sleep(0.5)

    watcher = threading.Thread(target=drain_while_running, daemon=True)
    watcher.start()
    try:
        state, report = run_array_dag(dag_id, spec)
    finally:
        watcher.join(timeout=60)  # its own finally resumes the node
    assert drained, "the test never saw the element running"
    assert state == "success", report
    assert report["completed"] == 2 and report["failed"] == []
    counts = count_jobs_by_tag(hook, f"lstflow.{dag_id}.stage.")
    assert list(counts.values()) == [1]
    record_fault(
        "node drained mid-run (then resumed)",
        finished=True,
        classification="running element completes; pending one waits for the resume",
        duplicates=sum(counts.values()) - len(counts),
        lost_items=2 - report["completed"],
        seconds=time.monotonic() - drained[0],
    )
