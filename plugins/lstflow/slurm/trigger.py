"""``SlurmArrayTrigger``: waits in the triggerer until every watched array element is final.

It never queries Slurm itself: it registers with the shared ``SlurmStatusPoller`` of its
connection (one batched query per cycle for all triggers, ``SlurmArrayOperator``'s and
``SlurmJobSensor``'s alike). Everything it needs to resume after a triggerer restart is in its
serialized kwargs; the jobs keep running meanwhile. ``on_kill`` (user marked the task
failed/success or cleared it) cancels the jobs lstflow submitted (``cancel_on_kill``), never
the jobs a sensor only watches. With ``fail_fast`` it fires as soon as one element failed.

When every element completed and the operator gave a ``success_report`` (nothing is left for a
worker to do), the trigger ends the task itself with ``TaskSuccessEvent``: no worker resumes it,
which saves a scheduling round trip per stage and sidesteps the resume race below.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.policy import PollSettings
from lstflow.slurm.poller import SlurmStatusPoller, StatusWatch
from lstflow.slurm.states import SlurmState, parse_state

# Shortest time between deferring and resuming the task on a worker (one default scheduler
# heartbeat): apache/airflow#72716, a stale executor "success" of the deferring worker fails a
# resumed try already queued or running. Ending the task from the trigger does not need it.
SETTLE_SECONDS = 5.0


class SlurmArrayTrigger(BaseTrigger):
    def __init__(
        self,
        ssh_conn_id: str,
        jobs: dict[str, list[int | None]],
        label: str,
        total: int,
        done_before: int = 0,
        log_pattern: str = "",
        poll: PollSettings | dict[str, Any] | None = None,
        success_report: dict[str, Any] | None = None,
        fail_fast: bool = False,
        cancel_on_kill: bool = True,
    ) -> None:
        """
        :param jobs: ``{job id: [array indices]}`` to wait for (``[None]`` for a plain job).
        :param poll: the operator's ``PollSettings`` (its JSON form after a triggerer restart).
        :param success_report: the ``SlurmReport`` JSON to end the task with if all complete.
        :param fail_fast: fire as soon as any element failed, not when all are final.
        :param cancel_on_kill: ``scancel`` the jobs when the user stops the task.
        """
        super().__init__()
        self.ssh_conn_id = ssh_conn_id
        self.jobs = {
            str(job): [None if i is None else int(i) for i in indices]
            for job, indices in jobs.items()
        }
        self.label = label
        self.total = total
        self.done_before = done_before
        self.log_pattern = log_pattern
        self.settings = poll_settings(poll)
        self.success_report = success_report
        self.fail_fast = fail_fast
        self.cancel_on_kill = cancel_on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "ssh_conn_id": self.ssh_conn_id,
                "jobs": self.jobs,
                "label": self.label,
                "total": self.total,
                "done_before": self.done_before,
                "log_pattern": self.log_pattern,
                "poll": self.settings.to_json(),
                "success_report": self.success_report,
                "fail_fast": self.fail_fast,
                "cancel_on_kill": self.cancel_on_kill,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        poller = SlurmStatusPoller.for_connection(self.ssh_conn_id)
        watch = poller.watch(self.jobs, self.settings)
        self.log.info(
            "%s: waiting for jobs %s; element logs: %s",
            self.label,
            ", ".join(self.jobs),
            self.log_pattern,
        )
        last_line = ""
        deferred_at = time.monotonic()
        try:
            while True:
                await watch.updated.wait()
                watch.updated.clear()
                if watch.error is not None:
                    yield TriggerEvent({"status": "error", "message": watch.error})
                    return
                line = self.progress_line(watch)
                if line != last_line:
                    self.log.info("%s", line)
                    last_line = line
                if watch.finished(time.monotonic()) or (self.fail_fast and _any_failed(watch)):
                    yield await self._final_event(watch, deferred_at)
                    return
        finally:
            poller.unwatch(watch)

    async def _final_event(self, watch: StatusWatch, deferred_at: float) -> TriggerEvent:
        """End the task here when nothing is left for a worker, else resume it after a settle."""
        if self.success_report is not None and _all_completed(watch):
            self.log.info(
                "%s: every element completed; the task ends from the triggerer", self.label
            )
            return TaskSuccessEvent(xcoms={"return_value": self.success_report})
        # Resuming on a worker: Airflow 3.3's scheduler fails a task resumed before the executor
        # has reported the deferring worker's exit (#72716): give it a scheduler heartbeat first.
        await asyncio.sleep(max(0.0, deferred_at + SETTLE_SECONDS - time.monotonic()))
        return TriggerEvent({"status": "done", "elements": _element_rows(watch)})

    def progress_line(self, watch: StatusWatch) -> str:
        """``r0_to_dl1: 412/1000 done, 3 failed, 20 running, 565 pending``."""
        states = [status.state for status in watch.latest.values()]
        done = self.done_before + states.count(SlurmState.COMPLETED)
        failed = sum(
            1 for s in watch.latest.values() if s.finished and s.state is not SlurmState.COMPLETED
        )
        running = states.count(SlurmState.RUNNING) + states.count(SlurmState.COMPLETING)
        pending = self.total - done - failed - running
        return (
            f"{self.label}: {done}/{self.total} done, {failed} failed, "
            f"{running} running, {pending} pending"
        )

    async def on_kill(self) -> None:
        """The user stopped the task: its Slurm jobs must not keep running unattended."""
        if not self.cancel_on_kill:
            self.log.info("%s: not cancelling jobs lstflow did not submit", self.label)
            return
        poller = SlurmStatusPoller.for_connection(self.ssh_conn_id)
        await poller.cancel(sorted(self.jobs))
        self.log.info("%s: cancelled Slurm jobs %s", self.label, ", ".join(sorted(self.jobs)))


def poll_settings(poll: PollSettings | dict[str, Any] | None) -> PollSettings:
    """Settings from an operator (or their serialized form); a failed query is retried after
    at most one poll interval, so short test intervals stay short."""
    settings = poll if isinstance(poll, PollSettings) else PollSettings(**(poll or {}))
    return replace(settings, retry_delay=min(settings.poll_interval, settings.retry_delay))


def _any_failed(watch: StatusWatch) -> bool:
    return any(
        status.failed for element, status in watch.latest.items() if element in watch.expected
    )


def element_statuses(rows: list[dict[str, Any]]) -> list[ElementStatus]:
    """The element statuses of a ``done`` event (what ``_element_rows`` sent)."""
    statuses = []
    for row in rows:
        state, _ = parse_state(str(row["state"]))
        statuses.append(
            ElementStatus(
                element=ElementId.parse(str(row["element"])),
                state=state,
                exit_code=row.get("exit_code"),
                signal=row.get("signal"),
                cancelled_by=row.get("cancelled_by"),
                from_accounting=bool(row.get("from_accounting")),
            )
        )
    return statuses


def _all_completed(watch: StatusWatch) -> bool:
    return all(
        (status := watch.latest.get(element)) is not None and status.state is SlurmState.COMPLETED
        for element in watch.expected
    )


def _element_rows(watch: StatusWatch) -> list[dict[str, Any]]:
    return [
        {
            "element": str(status.element),
            "state": str(status.state),
            "exit_code": status.exit_code,
            "signal": status.signal,
            "cancelled_by": status.cancelled_by,
            "from_accounting": status.from_accounting,
        }
        for status in sorted(watch.latest.values(), key=lambda s: s.element)
        if status.element in watch.expected
    ]
