"""Batched polling: many triggers in one event loop (as in the triggerer) share one query."""

from __future__ import annotations

import asyncio

import pytest
from support.slurm_counts import record_slurm_traffic

from lstflow.slurm.cluster_files import ClusterFiles
from lstflow.slurm.hook import SbatchRequest, SlurmHook
from lstflow.slurm.policy import PollSettings
from lstflow.slurm.trigger import SlurmArrayTrigger

pytestmark = pytest.mark.cluster

CONN = "lstflow_local_slurm"


def test_twenty_triggers_make_one_squeue_per_poll_cycle(remote_dir: str) -> None:
    hook = SlurmHook()
    script = f"{remote_dir}/short.sbatch"
    ClusterFiles(hook).write(script, "#!/bin/bash\nsleep 3\n")
    job_ids = [
        hook.submit(
            SbatchRequest(
                script,
                array="0-1",
                options=(("time", "2"), ("mem", "20M")),
                job_name=f"lstflow.polltest.{n}",
                comment="poll test",
                workdir=remote_dir,
                output="/dev/null",
                error="/dev/null",
            )
        )
        for n in range(20)
    ]
    triggers = [
        SlurmArrayTrigger(
            ssh_conn_id=CONN,
            jobs={job_id: [0, 1]},
            label=f"poll{n}",
            total=2,
            poll=PollSettings(poll_interval=1.0, max_poll_interval=2.0, sacct_grace_period=30.0),
        )
        for n, job_id in enumerate(job_ids)
    ]

    async def run_all() -> list[object]:
        return await asyncio.gather(*(anext(trigger.run()) for trigger in triggers))

    with record_slurm_traffic() as traffic:
        events = asyncio.run(asyncio.wait_for(run_all(), timeout=600))

    assert all(event.payload["status"] == "done" for event in events)  # type: ignore[attr-defined]
    assert all(
        {row["state"] for row in event.payload["elements"]} == {"COMPLETED"}  # type: ignore[attr-defined]
        for event in events
    )
    cycles = traffic.cycles[CONN]
    squeues = traffic.queries[(CONN, "squeue")]
    assert cycles > 1  # the jobs took several cycles ...
    assert squeues == cycles  # ... and each cycle was one squeue for all 20 triggers
