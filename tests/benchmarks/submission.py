"""Benchmark 2: what submitting the 3,400-entry production costs, lstflow against lstmcpipe.

Both sides submit the same production (the ``nsb_grid`` template on a synthetic DL0 tree) with
trivial payloads, as the cluster's job user. Every entry gets ``--begin=now+2hours`` so nothing
runs: the 2-core node stays free for others, and all jobs are cancelled once counted.

- lstflow: each stage's ``ProductionStageOperator.execute`` (plan at run time, write the array
  scripts, sbatch) up to its deferral, which is where Airflow hands over to the triggerer. The
  context holds only what the operator reads (task identity, params, a task state store).
- lstmcpipe: ``lstmcpipe -c CONFIG -conf_lst JSON`` answered ``y``, submitting with real sbatch.

sbatch calls are the job ids each tool reported (lstflow's deferrals, lstmcpipe's scancel files),
cross-checked with slurmctld's submit RPCs (sdiag). Not from sacct: it leaves out jobs held with
a future ``--begin``, so it undercounted lstflow's arrays.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from support.recording_hook import StateStore, TaskInstance

from benchmarks.clusterbench import ClusterWorkspace, rpc_delta
from benchmarks.libraries import NSB_GRID
from benchmarks.lstmcpipe_venv import ensure_venv
from lstflow.workitems import ArraySpec

HOLD = {"begin": "now+2hours"}


def submit_with_lstflow(config: Path, dag_id: str, submitted: list[str]) -> dict[str, Any]:
    """Each stage's operator up to its deferral; returns per-stage time and job ids.

    ``submitted`` gets every job id as soon as it is known, for cleanup after a failure.
    """
    from airflow.sdk.exceptions import TaskDeferred

    from lstflow.config import load_production
    from lstflow.productions.stage_operator import ProductionStageOperator
    from lstflow.slurm.array_plan import SPEC_KEY, read_spec
    from lstflow.stages.registry import stages_to_run

    stages = stages_to_run(load_production(config))
    params = {"stages": list(stages), "dry_run": False, "overwrite": "refuse"}
    per_stage: dict[str, dict[str, Any]] = {}
    for stage in stages:
        operator = ProductionStageOperator(
            task_id=stage, config_paths={config.name: str(config)}, stage=stage
        )
        store = StateStore()
        context = {
            "ti": TaskInstance(dag_id, "bench", stage),
            "run_id": "bench",
            "params": params,
            "task_state_store": store,
        }
        start = time.perf_counter()
        try:
            operator.execute(context)
        except TaskDeferred as deferred:
            jobs = sorted(deferred.trigger.jobs, key=int)
        else:
            raise RuntimeError(f"{stage}: the operator finished without submitting anything")
        per_stage[stage] = {"seconds": time.perf_counter() - start, "job_ids": jobs}
        submitted.extend(jobs)
        # The held jobs never run: stand in for them, so the next stage's planning finds its
        # inputs (#17's input check) as it would once this stage had run.
        _write_outputs(read_spec(store.get(SPEC_KEY)))
    return per_stage


def _write_outputs(spec: ArraySpec) -> None:
    """Every output of ``spec``'s items: an empty file (``.h5``, ``.gz``) or a directory."""
    for path in (Path(output) for item in spec.items for output in item.outputs):
        if path.suffix in (".h5", ".gz"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:
            path.mkdir(parents=True, exist_ok=True)


def submit_with_lstmcpipe(workspace: ClusterWorkspace, config: Path) -> dict[str, Any]:
    """Run lstmcpipe as the job user on this "login node"; its job ids from its scancel file.

    The trivial tools come first on the PATH, which sbatch exports to the jobs (see
    ``ClusterWorkspace.make_trivial_env``).
    """
    bin_dir = ensure_venv()
    logs = workspace.root / "lstmcpipe_logs"
    logs.mkdir(exist_ok=True)
    workspace.give_to_user()
    lstchain_json = next(config.parent.glob("*.json"))
    env = [
        f"SLURM_CONF={workspace.slurm_conf}",
        f"LSTMCPIPE_PROD_LOGS={logs}",
        f"HOME={workspace.root}",
        f"PATH={workspace.stubs}:{bin_dir}:/usr/bin:/bin",
    ]
    argv = ["runuser", "-u", workspace.user, "--", "env", *env]
    argv += [str(bin_dir / "lstmcpipe"), "-c", str(config), "-conf_lst", str(lstchain_json)]
    start = time.perf_counter()
    done = subprocess.run(
        argv, input="y\n" * 4, cwd=workspace.root, capture_output=True, text=True, timeout=3600
    )
    seconds = time.perf_counter() - start
    scancel_files = list(logs.rglob("scancel_*.sh"))
    job_ids = sorted(
        {job for path in scancel_files for job in re.findall(r"\d+", path.read_text())}, key=int
    )
    if done.returncode != 0 or not job_ids:
        raise RuntimeError(f"lstmcpipe exited {done.returncode}:\n{done.stderr[-3000:]}")
    return {"seconds": seconds, "job_ids": job_ids}


def run() -> dict[str, Any]:
    workspace = ClusterWorkspace.create("submission")
    flow_ids: list[str] = []
    try:
        flow_config = workspace.production(NSB_GRID, "bench_submit_lstflow", HOLD)
        pipe_config = workspace.production(NSB_GRID, "bench_submit_lstmcpipe", HOLD)
        workspace.give_to_user()
        entries = _entries(flow_config)

        print("[submission] lstflow ...", flush=True)
        os.environ["AIRFLOW__LSTFLOW__LOG_ROOT"] = str(workspace.root / "prod_logs")
        before = workspace.rpc_counts()
        stages = submit_with_lstflow(flow_config, f"bench_submit_{int(time.time())}", flow_ids)
        flow_rpcs = rpc_delta(before, workspace.rpc_counts())
        workspace.cancel(flow_ids)
        flow_ids.clear()

        print("[submission] lstmcpipe ...", flush=True)
        before = workspace.rpc_counts()
        pipe = submit_with_lstmcpipe(workspace, pipe_config)
        pipe_rpcs = rpc_delta(before, workspace.rpc_counts())
        workspace.cancel(pipe["job_ids"])
    finally:
        workspace.cancel(flow_ids)  # left only if something failed half-way
        workspace.remove()
    return {
        "entries": entries,
        "lstflow": {
            # One job id per sbatch, as each tool reported them (sacct leaves out jobs held with
            # a future --begin); slurmctld's submit RPCs below cross-check the count.
            "sbatch_calls": sum(len(stage["job_ids"]) for stage in stages.values()),
            "seconds": sum(stage["seconds"] for stage in stages.values()),
            "per_stage": {
                name: {"sbatch_calls": len(stage["job_ids"]), "seconds": stage["seconds"]}
                for name, stage in stages.items()
            },
            "submit_rpcs": flow_rpcs.get("REQUEST_SUBMIT_BATCH_JOB", 0),
            "total_rpcs": sum(flow_rpcs.values()),
        },
        "lstmcpipe": {
            "sbatch_calls": len(pipe["job_ids"]),
            "seconds": pipe["seconds"],
            "submit_rpcs": pipe_rpcs.get("REQUEST_SUBMIT_BATCH_JOB", 0),
            "total_rpcs": sum(pipe_rpcs.values()),
        },
    }


def _entries(config: Path) -> int:
    from lstflow.config import load_production

    production = load_production(config)
    return sum(len(production.entries(stage)) for stage in production.stages_to_run)
