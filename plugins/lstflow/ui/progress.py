"""Per-stage progress of a production run, from what the Slurm operator records.

Two sources, both read through the Slurm layer's public surface: the task's final
``SlurmReport`` (XCom ``return_value``, or ``slurm_report`` when the task failed) and, while the
task runs or is deferred, its stored ``ArrayPlan`` (``read_plan``). Pure functions, so they are
unit-tested without Airflow.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lstflow.productions.dry_run import DRY_RUN_KEY
from lstflow.slurm.array_plan import ArrayPlan
from lstflow.slurm.reports import FAILURE_XCOM_KEY, FailedElement, SlurmReport

#: Task states of a stage that is working or about to: its bar moves, it never reads as done.
LIVE_STATES = frozenset({"running", "deferred", "queued", "scheduled", "up_for_retry"})


@dataclass(frozen=True)
class StageProgress:
    """Elements of one stage: ``in_slurm`` are submitted and not final (queued or running);
    ``pending`` wait for (re)submission or for the task to plan them."""

    stage: str
    task_state: str | None
    total: int = 0
    done: int = 0
    failed: int = 0
    in_slurm: int = 0
    job_ids: tuple[str, ...] = ()
    failures: tuple[FailedElement, ...] = ()
    source: str = "none"
    dry_run_elements: int | None = None

    @property
    def indeterminate(self) -> bool:
        """The task works (plans, submits) but counts no elements yet: a moving bar, no %."""
        return not self.total and self.task_state in LIVE_STATES

    @property
    def pending(self) -> int:
        return max(self.total - self.done - self.failed - self.in_slurm, 0)

    def percent(self, count: int) -> float:
        return round(100.0 * count / self.total, 1) if self.total else 0.0

    @property
    def percent_done(self) -> float:
        if self.dry_run_elements is not None:
            return 0.0
        if not self.total:
            return 100.0 if self.task_state in ("success", "skipped") else 0.0
        return self.percent(self.done)

    @property
    def summary(self) -> str:
        """What the stage's bar means, in words: never a bare percentage of nothing."""
        if self.dry_run_elements is not None:
            return f"dry run: {self.dry_run_elements} element(s) planned, none submitted"
        if not self.total:
            if self.task_state in LIVE_STATES:
                return "planning"
            if self.task_state == "success":
                return "no Slurm work"
            return self.task_state or "not started"
        if not self.job_ids and self.done == self.total:
            return f"{self.done}/{self.total} done: every output already existed, nothing submitted"
        text = f"{self.done}/{self.total} done"
        if self.failed:
            text += f", {self.failed} failed"
        if self.in_slurm:
            text += f", {self.in_slurm} queued or running in Slurm"
        return text


def from_report(stage: str, task_state: str | None, report: SlurmReport) -> StageProgress:
    """A finished task: the operator's report."""
    return StageProgress(
        stage=stage,
        task_state=task_state,
        total=report.total,
        done=report.completed,
        failed=report.failure_count,
        job_ids=report.job_ids,
        failures=report.failed,
        source="report",
    )


def watched_jobs(plan: ArrayPlan) -> set[str]:
    """Array jobs of the plan's submitted, not yet final elements."""
    return set(plan.watch_list())


def from_plan(
    stage: str,
    task_state: str | None,
    plan: ArrayPlan,
    live: Mapping[str, str] | None = None,
) -> StageProgress:
    """A running or deferred task: final elements from the stored plan, the rest in Slurm.

    ``live`` (element id -> Slurm state, from sacct) counts the elements that completed since
    the trigger last reported; elements that ended otherwise stay "in Slurm" until the operator
    decides whether to retry them.
    """
    live = live or {}
    watched = plan.watched()
    done_live = sum(1 for e in watched if live.get(str(e.element_id)) == "COMPLETED")
    failed = len(plan.failures())
    return StageProgress(
        stage=stage,
        task_state=task_state,
        total=len(plan.elements),
        done=plan.completed() + done_live,
        failed=failed,
        in_slurm=len(watched) - done_live,
        job_ids=tuple(plan.job_ids),
        source="plan+sacct" if live else "plan",
    )


def stage_progress(
    stage: str,
    task_state: str | None,
    xcoms: Mapping[str, Any],
    plans: Sequence[ArrayPlan],
    live: Mapping[str, str] | None = None,
) -> StageProgress:
    """The best view available: the final report, else the latest plan, else nothing yet."""
    preview = xcoms.get("return_value")
    if isinstance(preview, str):
        with contextlib.suppress(ValueError):
            preview = json.loads(preview)
    if isinstance(preview, Mapping) and preview.get(DRY_RUN_KEY):
        elements = int(preview.get("elements") or 0)
        return StageProgress(stage, task_state, source="dry run", dry_run_elements=elements)
    for key in ("return_value", FAILURE_XCOM_KEY):
        report = SlurmReport.parse(xcoms.get(key))
        if report is not None:
            return from_report(stage, task_state, report)
    if plans:
        return from_plan(stage, task_state, plans[-1], live)
    return StageProgress(stage=stage, task_state=task_state)
