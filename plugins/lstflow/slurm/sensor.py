"""``SlurmJobSensor``: wait for Slurm jobs lstflow did not submit, job arrays included.

During a migration, jobs come from elsewhere: launched by hand, by lstosa or lstmcpipe, or by
another DAG. The sensor waits for them by job id or by job name, deferred from the start, on the
same shared poller as ``SlurmArrayOperator`` (one batched status query per poll cycle for every
operator and sensor of a triggerer). It succeeds when every element completed and fails with
the per-element ``SlurmReport`` otherwise:

- ``mode="wait_all"``: wait until every element is final, then judge;
- ``mode="fail_fast"``: fail as soon as any element failed (the others keep running).

It never cancels the jobs it watches: they are not lstflow's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.hook import DEFAULT_CONN_ID, SlurmHook
from lstflow.slurm.operator import ENDED_BY_TRIGGER
from lstflow.slurm.policy import PollSettings
from lstflow.slurm.reports import FAILURE_XCOM_KEY, FailedElement, SlurmReport
from lstflow.slurm.trigger import SlurmArrayTrigger, element_statuses

SensorMode = Literal["fail_fast", "wait_all"]
MODES: tuple[SensorMode, ...] = ("fail_fast", "wait_all")


class SlurmJobFailed(AirflowFailException):
    """An element of a watched job did not complete; the message lists the failed elements."""


class SlurmJobSensor(BaseOperator):
    """Wait, deferred, until the given Slurm jobs (or jobs of the given names) have completed.

    :param job_ids: job ids to wait for (``"1234"``: every element of array 1234).
    :param job_names: exact job names (``sbatch --job-name``), resolved to their job ids when
        the task runs; a name with no job of the connection's user fails the task.
    :param mode: ``"fail_fast"`` or ``"wait_all"`` (see the module docs).
    :param ssh_conn_id: the Slurm cluster's SSH connection.
    :param poll: how the shared poller asks Slurm.
    :param timeout: fail if the jobs are not all final by then.
    """

    template_fields: Sequence[str] = ("job_ids", "job_names", "ssh_conn_id")
    ui_color = "#e6f0ff"

    def __init__(
        self,
        *,
        job_ids: Sequence[str] = (),
        job_names: Sequence[str] = (),
        mode: SensorMode = "wait_all",
        ssh_conn_id: str = DEFAULT_CONN_ID,
        poll: PollSettings | None = None,
        timeout: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"task {self.task_id!r}: mode {mode!r}; use one of {list(MODES)}")
        if not job_ids and not job_names:
            raise ValueError(f"task {self.task_id!r}: give job_ids or job_names to wait for")
        self.job_ids = list(job_ids)
        self.job_names = list(job_names)
        self.mode = mode
        self.ssh_conn_id = ssh_conn_id
        self.poll = poll or PollSettings()
        self.timeout = timeout
        self._slurm_hook: SlurmHook | None = None

    def slurm_hook(self) -> SlurmHook:
        if self._slurm_hook is None:
            self._slurm_hook = SlurmHook(self.ssh_conn_id)
        return self._slurm_hook

    def execute(self, context: Any) -> Any:
        jobs = self._watched_elements()
        report = _report(self.task_id, jobs, {})
        self.log.info(
            "%s: waiting (%s) for %d element(s) of job(s) %s",
            self.task_id,
            self.mode,
            report.total,
            ", ".join(jobs),
        )
        self.defer(
            trigger=SlurmArrayTrigger(
                ssh_conn_id=self.ssh_conn_id,
                jobs=jobs,
                label=self.task_id,
                total=report.total,
                poll=self.poll,
                success_report=_completed(report).to_json(),
                fail_fast=self.mode == "fail_fast",
                cancel_on_kill=False,
            ),
            method_name="execute_complete",
            timeout=self.timeout,
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | str) -> Any:
        if event == ENDED_BY_TRIGGER:  # dag.test() resumes a task its trigger ended
            return _completed(_report(self.task_id, self._watched_elements(), {})).to_json()
        if not isinstance(event, dict) or event.get("status") != "done":
            message = event.get("message", event) if isinstance(event, dict) else event
            raise AirflowException(f"{self.task_id}: {message}")
        jobs: dict[str, list[int | None]] = {}
        statuses = {status.element: status for status in element_statuses(event["elements"])}
        for element in statuses:
            jobs.setdefault(element.job_id, []).append(element.index)
        report = _report(self.task_id, jobs, statuses)
        if report.failed or report.completed < report.total:
            context["ti"].xcom_push(key=FAILURE_XCOM_KEY, value=report.to_json())
            raise SlurmJobFailed(
                f"{self.task_id}: {report.failure_count} of {report.total} element(s) failed: "
                + report.summary()
            )
        return report.to_json()

    def _watched_elements(self) -> dict[str, list[int | None]]:
        """``{job id: [array indices]}`` of every element of the jobs to wait for."""
        hook = self.slurm_hook()
        job_ids = sorted({*map(str, self.job_ids), *self._named_jobs(hook)}, key=int)
        elements = hook.job_elements(job_ids)
        missing = sorted(set(job_ids) - {element.job_id for element in elements}, key=int)
        if missing:
            raise AirflowFailException(
                f"{self.task_id}: Slurm knows no job {', '.join(missing)} (neither squeue nor "
                "sacct of the connection's user); check the job ids"
            )
        jobs: dict[str, list[int | None]] = {}
        for element in sorted(elements, key=_order):
            jobs.setdefault(element.job_id, []).append(element.index)
        return jobs

    def _named_jobs(self, hook: SlurmHook) -> list[str]:
        if not self.job_names:
            return []
        found = hook.find_jobs(self.job_names)
        unknown = [name for name in self.job_names if not found.get(name)]
        if unknown:
            raise AirflowFailException(
                f"{self.task_id}: no Slurm job named {', '.join(map(repr, unknown))} for the "
                "connection's user (squeue, and sacct over the last 31 days); check the names"
            )
        return [job for name in self.job_names for job in found[name]]


def _order(element: ElementId) -> tuple[int, int]:
    return int(element.job_id), -1 if element.index is None else element.index


def _report(
    name: str, jobs: dict[str, list[int | None]], statuses: dict[ElementId, ElementStatus]
) -> SlurmReport:
    """What the sensor saw: every element, those that completed and those that failed."""
    elements = [ElementId(job, index) for job, indices in jobs.items() for index in indices]
    failed = [
        FailedElement(
            element=str(element),
            key=str(element),
            state=str(status.state) + (f" by {status.cancelled_by}" if status.cancelled_by else ""),
            exit_code=status.exit_code,
            signal=status.signal,
            attempts=1,
        )
        for element in sorted(elements, key=_order)
        if (status := statuses.get(element)) is not None and status.failed
    ]
    completed = sum(
        1 for e in elements if (s := statuses.get(e)) is not None and not s.failed and s.finished
    )
    return SlurmReport(name, len(elements), completed, tuple(jobs), tuple(failed))


def _completed(report: SlurmReport) -> SlurmReport:
    """The report if every element completes: what the trigger ends the task with."""
    return SlurmReport(report.name, report.total, report.total, report.job_ids)
