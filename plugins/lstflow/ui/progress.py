"""Per-stage progress of a production run, from what the Slurm operator records.

Two sources, both written by ``SlurmArrayOperator``: its final report (XCom ``return_value``,
or ``slurm_report`` when the task failed) and, while the task runs or is deferred, its
``ArrayPlan`` in the task state store (``lstflow.slurm.plan.<fingerprint>``). Pure functions of
plain JSON, so they are unit-tested without Airflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PLAN_KEY_PREFIX = "lstflow.slurm.plan."  # SlurmArrayOperator's STATE_KEY_PREFIX


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
    failures: tuple[Mapping[str, Any], ...] = field(default=())
    source: str = "none"

    @property
    def pending(self) -> int:
        return max(self.total - self.done - self.failed - self.in_slurm, 0)

    def percent(self, count: int) -> float:
        return round(100.0 * count / self.total, 1) if self.total else 0.0

    @property
    def percent_done(self) -> float:
        if not self.total:
            return 100.0 if self.task_state in ("success", "skipped") else 0.0
        return self.percent(self.done)


def from_report(stage: str, task_state: str | None, report: Mapping[str, Any]) -> StageProgress:
    """A finished task: the operator's report ``{name,total,completed,job_ids,failed}``."""
    failures = tuple(report.get("failed") or ())
    return StageProgress(
        stage=stage,
        task_state=task_state,
        total=int(report.get("total", 0)),
        done=int(report.get("completed", 0)),
        failed=len(failures),
        job_ids=tuple(str(j) for j in report.get("job_ids") or ()),
        failures=failures,
        source="report",
    )


def watched_jobs(plan: Mapping[str, Any]) -> set[str]:
    """Array jobs of the plan's submitted, not yet final elements."""
    return {
        str(e["job_id"])
        for e in plan.get("elements") or ()
        if not e.get("final") and e.get("job_id") is not None
    }


def from_plan(
    stage: str,
    task_state: str | None,
    plan: Mapping[str, Any],
    live: Mapping[str, str] | None = None,
) -> StageProgress:
    """A running or deferred task: final elements from the stored plan, the rest in Slurm.

    ``live`` (element id -> Slurm state, from sacct) counts the elements that completed since
    the trigger last reported; elements that ended otherwise stay "in Slurm" until the operator
    decides whether to retry them.
    """
    elements: Sequence[Mapping[str, Any]] = plan.get("elements") or ()
    live = live or {}
    done = failed = in_slurm = 0
    for element in elements:
        if element.get("final"):
            if element.get("state") == "COMPLETED":
                done += 1
            else:
                failed += 1
        elif element.get("job_id") is not None:
            element_id = f"{element['job_id']}_{element.get('array_index')}"
            if live.get(element_id) == "COMPLETED":
                done += 1
            else:
                in_slurm += 1
    return StageProgress(
        stage=stage,
        task_state=task_state,
        total=len(elements),
        done=done,
        failed=failed,
        in_slurm=in_slurm,
        job_ids=tuple(str(j) for j in plan.get("job_ids") or ()),
        source="plan+sacct" if live else "plan",
    )


def stage_progress(
    stage: str,
    task_state: str | None,
    reports: Mapping[str, Any],
    plans: Sequence[Mapping[str, Any]],
    live: Mapping[str, str] | None = None,
) -> StageProgress:
    """The best view available: the final report, else the latest plan, else nothing yet."""
    for key in ("return_value", "slurm_report"):
        report = reports.get(key)
        if isinstance(report, Mapping) and "total" in report:
            return from_report(stage, task_state, report)
    if plans:
        return from_plan(stage, task_state, plans[-1], live)
    return StageProgress(stage=stage, task_state=task_state)
