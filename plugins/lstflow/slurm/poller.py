"""One batched Slurm status query per connection and poll cycle, shared by every trigger.

squeue(1) and sacct(1) warn that clients polling in loops can deny service to slurmctld and
slurmdbd. So the triggers of all lstflow tasks in a triggerer process do not query: they
register a ``StatusWatch`` with the ``SlurmStatusPoller`` of their connection, whose single
asyncio task runs ONE ``squeue -t all -r -j <every job>`` per cycle over one reused SSH
connection, plus one ``sacct -j`` for jobs the controller has forgotten (past MinJobAge) or
failures whose exit code/canceller only accounting knows. Results fan out to the watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import shlex
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.parsing import parse_sacct, parse_squeue
from lstflow.slurm.policy import PollSettings
from lstflow.slurm.slurm_argv import (
    CommandResult,
    SlurmCommandError,
    sacct_status_argv,
    squeue_forgot_all,
    squeue_status_argv,
)

log = logging.getLogger(__name__)


class StatusWatch:
    """What one trigger waits for: a set of array elements and their latest states."""

    def __init__(self, jobs: dict[str, list[int | None]], settings: PollSettings) -> None:
        self.settings = settings
        self.expected = {
            ElementId(job, index) for job, indices in jobs.items() for index in indices
        }
        self.job_ids = sorted(jobs)
        self.latest: dict[ElementId, ElementStatus] = {}
        self.error: str | None = None
        self.updated = asyncio.Event()
        self._unknown_since: dict[ElementId, float] = {}
        self._started = time.monotonic()

    def absorb(self, statuses: dict[ElementId, ElementStatus], now: float) -> bool:
        """Take one cycle's answer; return whether any of our elements changed state."""
        changed = False
        for element in self.expected:
            status = statuses.get(element)
            if status is None or status.needs_accounting:
                # Not in squeue nor (yet) in sacct, or failed without its exit code: sacct lags
                # the controller by seconds, so this is "pending" for the grace period.
                self._unknown_since.setdefault(element, now)
            else:
                self._unknown_since.pop(element, None)
            previous = self.latest.get(element)
            if status is not None:
                changed = changed or previous is None or previous.state != status.state
                self.latest[element] = status
        overdue = [
            element
            for element, since in self._unknown_since.items()
            if now - since > self.settings.sacct_grace_period
            and (element not in self.latest or not self.latest[element].finished)
        ]
        if overdue:
            names = ", ".join(str(element) for element in sorted(overdue)[:10])
            self.error = (
                f"{len(overdue)} element(s) ({names}) are in neither squeue nor sacct after "
                f"{self.settings.sacct_grace_period:.0f} s; refusing to assume they succeeded"
            )
        self.updated.set()
        return changed

    def fail(self, message: str) -> None:
        self.error = message
        self.updated.set()

    def finished(self, now: float) -> bool:
        """Every element final, with its exit code known or no longer awaited."""
        for element in self.expected:
            status = self.latest.get(element)
            if status is None or not status.finished:
                return False
            since = self._unknown_since.get(element)
            waiting = since is not None and now - since <= self.settings.sacct_grace_period
            if status.needs_accounting and waiting:
                return False
        return True

    def needs_accounting(self) -> set[str]:
        return {s.element.job_id for s in self.latest.values() if s.needs_accounting}


class SlurmStatusPoller:
    """The per-event-loop, per-connection poller; get it with ``for_connection``."""

    _registry: dict[tuple[int, str], SlurmStatusPoller] = {}  # noqa: RUF012 (process-wide)

    def __init__(self, ssh_conn_id: str) -> None:
        self.ssh_conn_id = ssh_conn_id
        self.watches: set[StatusWatch] = set()
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._conn: Any = None
        self.cycles = 0

    @classmethod
    def for_connection(cls, ssh_conn_id: str) -> SlurmStatusPoller:
        key = (id(asyncio.get_running_loop()), ssh_conn_id)
        poller = cls._registry.get(key)
        if poller is None:
            poller = cls._registry[key] = cls(ssh_conn_id)
        return poller

    def watch(self, jobs: dict[str, list[int | None]], settings: PollSettings) -> StatusWatch:
        watch = StatusWatch(jobs, settings)
        self.watches.add(watch)
        self._wakeup.set()  # a new watch is answered in the next cycle, not after a backoff
        if self._task is None or self._task.done():
            # A fresh context: the shared loop belongs to no trigger, so the triggerer must not
            # route its logs into the task log of whichever trigger happened to start it.
            self._task = asyncio.get_running_loop().create_task(
                self._run(), context=contextvars.Context()
            )
        return watch

    def unwatch(self, watch: StatusWatch) -> None:
        self.watches.discard(watch)

    # ---- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        interval = 0.0
        try:
            while self.watches:
                self._wakeup.clear()
                watches = list(self.watches)
                settings = _strictest(watches)
                try:
                    statuses = await self._query_with_retries(watches, settings)
                except Exception as error:
                    message = f"Slurm status query failed {settings.query_attempts} times: {error}"
                    for watch in watches:
                        self.unwatch(watch)
                        watch.fail(message)
                    continue
                now = time.monotonic()
                changed = [watch.absorb(statuses, now) for watch in watches]
                self.cycles += 1
                # the triggerer log shows that every trigger shares each cycle's query
                log.info(
                    "Slurm poll cycle %d over %s: %d trigger(s), %d job(s)",
                    self.cycles,
                    self.ssh_conn_id,
                    len(watches),
                    len({job for watch in watches for job in watch.job_ids}),
                )
                if any(changed) or interval == 0.0:
                    interval = settings.poll_interval
                else:
                    interval = min(interval * settings.backoff_factor, settings.max_poll_interval)
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=interval)
                except TimeoutError:
                    pass
                else:
                    interval = settings.poll_interval
        finally:
            await self._close()

    async def _query_with_retries(
        self, watches: Sequence[StatusWatch], settings: PollSettings
    ) -> dict[ElementId, ElementStatus]:
        job_ids = sorted({job for watch in watches for job in watch.job_ids})
        detail_ids = set().union(*(watch.needs_accounting() for watch in watches))
        for attempt in range(1, settings.query_attempts + 1):
            try:
                return await self.query(job_ids, detail_ids, settings.command_timeout)
            except Exception:
                await self._close()
                if attempt == settings.query_attempts:
                    raise
                await asyncio.sleep(settings.retry_delay * attempt)
        raise AssertionError("unreachable")

    async def query(
        self, job_ids: Sequence[str], detail_ids: set[str], timeout: float
    ) -> dict[ElementId, ElementStatus]:
        """One squeue for all jobs; one sacct for forgotten jobs and unexplained failures."""
        result = await self.run(squeue_status_argv(job_ids), timeout, "squeue")
        if result.exit_status != 0 and not squeue_forgot_all(result):
            raise SlurmCommandError(result)
        live = {s.element: s for s in parse_squeue(result.stdout) if result.exit_status == 0}
        known_jobs = {element.job_id for element in live}
        detail_ids |= {s.element.job_id for s in live.values() if s.needs_accounting}
        sacct_ids = sorted((set(job_ids) - known_jobs) | detail_ids)
        if not sacct_ids:
            return live
        accounting = await self.run(sacct_status_argv(sacct_ids), timeout, "sacct")
        accounting.raise_for_status()
        merged = dict(live)
        for row in parse_sacct(accounting.stdout):
            current = live.get(row.element)
            if current is None:
                merged[row.element] = row
            elif current.finished and row.finished:
                # squeue is current on the state; sacct adds exit code and who cancelled
                merged[row.element] = replace(
                    current,
                    exit_code=row.exit_code,
                    signal=row.signal,
                    cancelled_by=row.cancelled_by or current.cancelled_by,
                )
        return merged

    async def cancel(
        self, job_ids: Sequence[str], timeout: float = 60.0, attempts: int = 3
    ) -> CommandResult:
        """``scancel`` from the triggerer (a trigger's ``on_kill``).

        Retried on a fresh connection: the loop closes the shared one when its last watch goes,
        which is exactly when a cleared task's trigger cancels. scancel is idempotent.
        """
        for attempt in range(1, attempts + 1):
            try:
                result = await self.run(["scancel", *job_ids], timeout, "scancel")
                break
            except Exception:
                if attempt == attempts:
                    raise
        if not self.watches:
            await self._close()
        return result.raise_for_status()

    # ---- SSH -------------------------------------------------------------------------------

    async def run(self, argv: Sequence[str], timeout: float, kind: str) -> CommandResult:
        """Run an argv over the poller's one reused asyncssh connection."""
        from airflow.providers.ssh.hooks.ssh import SSHHookAsync

        if self._conn is None:
            self._conn = await SSHHookAsync(ssh_conn_id=self.ssh_conn_id).get_conn()
        command = shlex.join(argv)
        log.info("Slurm %s over %s: %.200s", kind, self.ssh_conn_id, command)
        try:
            completed = await self._conn.run(command, check=False, timeout=timeout)
        except Exception:
            await self._close()
            raise
        return CommandResult(
            command,
            completed.exit_status if completed.exit_status is not None else -1,
            str(completed.stdout or ""),
            str(completed.stderr or ""),
        )

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(conn.wait_closed(), timeout=5)


def _strictest(watches: Sequence[StatusWatch]) -> PollSettings:
    """Settings honouring every watch: the shortest interval, the most patient retries."""
    settings = [watch.settings for watch in watches]
    return replace(
        settings[0],
        poll_interval=min(s.poll_interval for s in settings),
        max_poll_interval=min(s.max_poll_interval for s in settings),
        query_attempts=max(s.query_attempts for s in settings),
    )
