"""Test-only counters of what lstflow sent to Slurm, kept out of the product modules.

``count_jobs_by_tag`` proves exactly-once submission from the cluster's own records
(``jobs_under``: a test's own jobs, by working directory, on the shared cluster);
``record_slurm_traffic`` counts the poller's status queries and cycles in this process by
wrapping the poller's two entry points for the duration of a ``with`` block.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.hook import JOB_LOOKBACK, SlurmHook
from lstflow.slurm.parsing import parse_named_jobs
from lstflow.slurm.poller import SlurmStatusPoller
from lstflow.slurm.slurm_argv import CommandResult, find_jobs_commands


def count_jobs_by_tag(hook: SlurmHook, prefix: str) -> dict[str, int]:
    """How many array jobs the cluster holds under each job name starting with ``prefix``.

    Every name (one per planned submission) must map to exactly one job id, whatever crashed
    in between.
    """
    since = (datetime.now(UTC) - JOB_LOOKBACK).strftime("%Y-%m-%dT%H:%M:%S")
    jobs = parse_named_jobs(hook.check(find_jobs_commands(None, since)).stdout)
    return {name: len(ids) for name, ids in jobs.items() if name.startswith(prefix)}


@dataclass
class SlurmTraffic:
    """Status commands by (connection id, command) and poll cycles by connection id."""

    queries: Counter[tuple[str, str]] = field(default_factory=Counter)
    cycles: Counter[str] = field(default_factory=Counter)


@contextmanager
def record_slurm_traffic() -> Iterator[SlurmTraffic]:
    """Count every command the pollers of this process run, and every status query (one per
    poll cycle), while the block runs."""
    traffic = SlurmTraffic()
    run, query = SlurmStatusPoller.run, SlurmStatusPoller.query

    async def counted_run(
        self: SlurmStatusPoller, argv: Sequence[str], timeout: float, kind: str
    ) -> CommandResult:
        traffic.queries[(self.ssh_conn_id, kind)] += 1
        return await run(self, argv, timeout, kind)

    async def counted_query(
        self: SlurmStatusPoller, *args: Any, **kwargs: Any
    ) -> dict[ElementId, ElementStatus]:
        traffic.cycles[self.ssh_conn_id] += 1
        return await query(self, *args, **kwargs)

    SlurmStatusPoller.run = counted_run  # type: ignore[method-assign]
    SlurmStatusPoller.query = counted_query  # type: ignore[method-assign]
    try:
        yield traffic
    finally:
        SlurmStatusPoller.run = run  # type: ignore[method-assign]
        SlurmStatusPoller.query = query  # type: ignore[method-assign]


@dataclass(frozen=True)
class AccountedJob:
    """One array job in sacct: its name, id and working directory."""

    name: str
    job_id: str
    workdir: str


def jobs_under(hook: SlurmHook, directory: str) -> list[AccountedJob]:
    """Every job of the SSH user, since ``JOB_LOOKBACK``, whose working directory lies under
    ``directory``: a test's own jobs on a cluster that other test runs share."""
    since = (datetime.now(UTC) - JOB_LOOKBACK).strftime("%Y-%m-%dT%H:%M:%S")
    argv = ["sacct", "-X", "--parsable2", "--noheader", "-o", "JobName,JobID,WorkDir"]
    out = hook.check([*argv, f"--starttime={since}"]).stdout
    rows = (line.split("|", 2) for line in out.splitlines() if line.count("|") >= 2)
    jobs = {
        (name, job_id.split("_")[0], workdir)
        for name, job_id, workdir in rows
        if workdir == directory or workdir.startswith(directory.rstrip("/") + "/")
    }
    return [AccountedJob(*job) for job in sorted(jobs)]
