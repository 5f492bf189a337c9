"""Benchmarks 3 and 4a: a mini production run end to end, lstflow against lstmcpipe.

The mini production is generated like the others (AllSkyFull, one declination, two training
and two test nodes): r0_to_dl1 → merge_dl1 → train_pipe → dl1_to_dl2 → dl2_to_irfs, the library's
most common 5-stage chain, with trivial payloads. lstflow runs it through real Airflow processes
(scheduler, dag-processor, triggerer, api-server), triggered as the UI's Trigger button does (one
REST call; `airflow dags trigger` adds its own 3-10 s start on two loaded cores); lstmcpipe
submits its afterok chain. Wall times, per-stage transitions (from sacct) and slurmctld RPCs
(sdiag deltas) are recorded for both.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from typing import Any

from support.airflow_stack import FINISHED_TI_STATES, AirflowStack, all_in

from benchmarks.clusterbench import ClusterWorkspace, rpc_delta, stage_transitions
from benchmarks.common import BENCH_DIR
from benchmarks.libraries import Template
from benchmarks.submission import submit_with_lstmcpipe

MINI = Template(
    "mini",
    "AllSkyFull",
    "20250101_v0.12.3_allsky_mini",
    decs=1,
    train_nodes=2,
    test_nodes=2,
    conda_env="lstchain-v0.12.3",
)
ORDER = ("r0_to_dl1", "merge_dl1", "train_pipe", "dl1_to_dl2", "dl2_to_irfs")
LSTMCPIPE_STAGES = {
    "LST-r0_to_dl1": "r0_to_dl1",
    "merge": "merge_dl1",
    "train_pipe": "train_pipe",
    "dl1_dl2": "dl1_to_dl2",
    "dl2_irfs": "dl2_to_irfs",
}
#: Seconds; lstflow's default is 60 (production); reported with the results.
POLL_INTERVAL = 2.0
RUN_TIMEOUT_S = 900


def run_lstflow(
    workspace: ClusterWorkspace,
    template: Template = MINI,
    prod_id: str = "bench_mini_lstflow",
    home_name: str = "airflow-orchestration",
    *,
    lineage: bool = False,
) -> dict[str, Any]:
    """``template`` as ``prod_id`` through a fresh Airflow stack in ``BENCH_DIR/home_name``;
    wall times from the trigger, the UI's REST call (``started_epoch``: the trigger, as seconds
    since the epoch).
    ``lineage``: run it lineage-aware (``[lstflow] lineage_runs``)."""
    from lstflow.productions.naming import dag_id_for

    config = workspace.production(template, prod_id, {})
    workspace.give_to_user()
    home = BENCH_DIR / home_name
    shutil.rmtree(home, ignore_errors=True)
    settings = {
        "AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS": str(config.parent),
        "AIRFLOW__LSTFLOW__PARSE_CACHE_DIR": str(home / "parse-cache"),
        "AIRFLOW__LSTFLOW__LOG_ROOT": str(workspace.root / "prod_logs"),
        "AIRFLOW__LSTFLOW__POLL_INTERVAL": str(POLL_INTERVAL),
        "AIRFLOW__LSTFLOW__MAX_POLL_INTERVAL": str(POLL_INTERVAL),
        "AIRFLOW__LSTFLOW__LINEAGE_RUNS": str(lineage),
    }
    stack = AirflowStack.create(home, home / "dags", settings)
    stack.api_apps = "all"  # the REST API, as the UI calls it
    stack.link_production_dags()
    dag_id = dag_id_for(prod_id)
    try:
        stack.start()
        stack.wait_for_dag(dag_id)
        before = workspace.rpc_counts()
        started = datetime.now()
        started_epoch = time.time()
        stack.trigger_as_ui(dag_id, "bench")
        states = stack.wait_for_tasks(
            dag_id, "bench", all_in(FINISHED_TI_STATES), "every stage to end", RUN_TIMEOUT_S
        )
        ((end_text,),) = stack.wait(
            lambda: stack.query(
                "SELECT end_date FROM dag_run WHERE dag_id = %s AND run_id = %s "
                "AND end_date IS NOT NULL",
                (dag_id, "bench"),
            ),
            60,
            "the DAG run to end",
        )
        rpcs = rpc_delta(before, workspace.rpc_counts())
        timeline = _task_timeline(stack, dag_id, "bench", started)
    finally:
        stack.close()
    jobs = workspace.jobs_named(f"lstflow.{dag_id}.", started)
    stage_of = {row["name"]: row["name"].split(".")[2] for row in jobs}
    run_end = _local_naive(datetime.fromisoformat(str(end_text)))
    return _summary(jobs, stage_of, started, rpcs) | {
        "wall_to_run_end_s": (run_end - started).total_seconds(),
        # Not all "success" is a finding in itself (e.g. the executor race in the report).
        "task_states": {task: state for (task, _), state in sorted(states.items())},
        "task_timeline": timeline,
        "started_epoch": started_epoch,
    }


def run_lstmcpipe(
    workspace: ClusterWorkspace, template: Template = MINI, prod_id: str = "bench_mini_lstmcpipe"
) -> dict[str, Any]:
    config = workspace.production(template, prod_id, {})
    before = workspace.rpc_counts()
    started = datetime.now()
    started_epoch = time.time()
    submitted = submit_with_lstmcpipe(workspace, config)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        jobs = workspace.jobs(submitted["job_ids"])
        # slurmdbd records a job some time after sbatch: wait until every submitted job is there
        recorded = {row["job_id"].split("_")[0] for row in jobs}
        if recorded >= set(submitted["job_ids"]) and all(row["end"] is not None for row in jobs):
            break
        if time.monotonic() > deadline:
            workspace.cancel(submitted["job_ids"])
            raise RuntimeError(f"lstmcpipe's jobs did not finish in {RUN_TIMEOUT_S} s: {jobs}")
        time.sleep(2)
    rpcs = rpc_delta(before, workspace.rpc_counts())
    staged = [row for row in jobs if row["name"] in LSTMCPIPE_STAGES]
    return _summary(staged, LSTMCPIPE_STAGES, started, rpcs) | {
        "states": sorted({row["state"] for row in jobs}),
        "jobs_including_checks": len(jobs),
        "started_epoch": started_epoch,
    }


def _task_timeline(
    stack: AirflowStack, dag_id: str, run_id: str, started: datetime
) -> dict[str, list[tuple[str, float]]]:
    """Per task, when (s after the trigger) it started on a worker, deferred and ended.

    A worker's start and deferral come from Airflow's audit log, the end from the task instance
    (a task ended by its trigger has no audit entry for it). A task resumed on a worker shows
    ``running`` twice; one ended by its trigger, once.
    """
    rows = stack.query(
        "SELECT task_id, event, dttm FROM log WHERE dag_id = %s AND run_id = %s "
        "AND event IN ('running', 'deferred') "
        "UNION ALL SELECT task_id, 'ended', end_date FROM task_instance "
        "WHERE dag_id = %s AND run_id = %s AND end_date IS NOT NULL ORDER BY 3",
        (dag_id, run_id, dag_id, run_id),
    )
    timeline: dict[str, list[tuple[str, float]]] = {}
    for task, event, moment in rows:
        seconds = (_local_naive(datetime.fromisoformat(str(moment))) - started).total_seconds()
        timeline.setdefault(str(task), []).append((str(event), round(seconds, 2)))
    return timeline


def _local_naive(moment: datetime) -> datetime:
    """Airflow stores UTC; sacct and ``datetime.now()`` speak naive local time."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone().replace(tzinfo=None)


def _summary(
    jobs: list[dict[str, Any]],
    stage_of: dict[str, str],
    started: datetime,
    rpcs: dict[str, int],
) -> dict[str, Any]:
    last_end = max(row["end"] for row in jobs if row["end"] is not None)
    return {
        "wall_to_last_job_end_s": (last_end - started.replace(microsecond=0)).total_seconds(),
        "transitions_s": stage_transitions(jobs, stage_of, ORDER),
        "sbatch_calls": len({row["job_id"].split("_")[0] for row in jobs}),
        "elements": len(jobs),
        "states": sorted({row["state"] for row in jobs}),
        "rpcs_total": sum(rpcs.values()),
        "rpcs_submit": rpcs.get("REQUEST_SUBMIT_BATCH_JOB", 0),
        "rpcs_job_info": sum(count for name, count in rpcs.items() if "JOB_INFO" in name),
    }


def run() -> dict[str, Any]:
    workspace = ClusterWorkspace.create("orchestration")
    try:
        print("[orchestration] lstflow through Airflow, stage by stage ...", flush=True)
        lstflow = run_lstflow(workspace)
        print("[orchestration] lstflow through Airflow, lineage-aware ...", flush=True)
        lineage = run_lstflow(
            workspace, MINI, "bench_mini_lineage", "airflow-orchestration-lineage", lineage=True
        )
        print("[orchestration] lstmcpipe ...", flush=True)
        lstmcpipe = run_lstmcpipe(workspace)
    finally:
        workspace.remove()
    wall = lstmcpipe["wall_to_last_job_end_s"]
    return {
        "poll_interval_s": POLL_INTERVAL,
        "stages": list(ORDER),
        "lstflow": lstflow,
        "lstflow_lineage": lineage,
        "lstmcpipe": lstmcpipe,
        "wall_ratio": lstflow["wall_to_run_end_s"] / wall,
        "lineage_wall_ratio": lineage["wall_to_run_end_s"] / wall,
    }


__all__ = ["MINI", "run"]
