"""Benchmark 4b: Slurm status queries with 50 arrays watched at once.

50 job arrays (2 elements each, held with ``--begin`` so they stay pending and never load the
node) are watched by 50 real ``SlurmArrayTrigger``s in one event loop, as in one triggerer, for a
minute at a 2 s poll interval. A recorder wrapped around the poller gives queries per cycle and
per minute; sdiag gives what slurmctld saw meanwhile (other users of the cluster add noise to that).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from benchmarks.clusterbench import ClusterWorkspace, rpc_delta

ARRAYS = 50
WATCH_SECONDS = 60.0
POLL_INTERVAL = 2.0


async def _watch(triggers: list[Any], seconds: float) -> None:
    async def drain(trigger: Any) -> None:
        async for _event in trigger.run():
            return

    tasks = [asyncio.create_task(drain(trigger)) for trigger in triggers]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def run() -> dict[str, Any]:
    from support.slurm_counts import record_slurm_traffic

    from lstflow.slurm.hook import SlurmHook
    from lstflow.slurm.policy import PollSettings
    from lstflow.slurm.trigger import SlurmArrayTrigger

    workspace = ClusterWorkspace.create("controller")
    workspace.give_to_user()
    hook = SlurmHook()
    job_ids: list[str] = []
    try:
        print(f"[controller] {ARRAYS} arrays watched for {WATCH_SECONDS:.0f} s ...", flush=True)
        for number in range(ARRAYS):
            argv = ["sbatch", "--parsable", "--begin=now+1hour", "--array=0-1"]
            argv += [f"--chdir={workspace.root}", "--output=/dev/null", f"--job-name=bench{number}"]
            job_ids.append(hook.check([*argv, "--wrap", "true"]).stdout.strip())
        triggers = [
            SlurmArrayTrigger(
                ssh_conn_id=hook.ssh_conn_id,
                jobs={job: [0, 1]},
                label=f"bench{number}",
                total=2,
                poll=PollSettings(poll_interval=POLL_INTERVAL, max_poll_interval=POLL_INTERVAL),
            )
            for number, job in enumerate(job_ids)
        ]
        rpcs_before = workspace.rpc_counts()
        start = time.monotonic()
        with record_slurm_traffic() as traffic:
            asyncio.run(_watch(triggers, WATCH_SECONDS))
        minutes = (time.monotonic() - start) / 60
        rpcs = rpc_delta(rpcs_before, workspace.rpc_counts())
        queries = sum(traffic.queries.values())
        cycles = sum(traffic.cycles.values())
    finally:
        if job_ids:
            workspace.cancel(job_ids)
        workspace.remove()
    return {
        "arrays": ARRAYS,
        "poll_interval_s": POLL_INTERVAL,
        "poll_cycles": cycles,
        "status_queries": queries,
        "queries_per_cycle": queries / cycles if cycles else float("nan"),
        "queries_per_minute": queries / minutes,
        "slurmctld_job_info_rpcs_per_minute": sum(
            count for name, count in rpcs.items() if "JOB_INFO" in name
        )
        / minutes,
        "slurmctld_rpcs_per_minute": sum(rpcs.values()) / minutes,
    }
