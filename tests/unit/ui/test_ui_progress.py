"""Stage progress from the Slurm operator's report and stored plan (as the UI reads them)."""

from __future__ import annotations

import json

import pytest

from lstflow.slurm.array_plan import ArrayPlan, read_plan
from lstflow.ui.progress import StageProgress, from_plan, stage_progress, watched_jobs
from lstflow.workitems import ArraySpec, WorkItem

pytestmark = pytest.mark.unit


def _plan(n: int) -> ArrayPlan:
    items = tuple(WorkItem(key=f"e{i}", argv=("true",)) for i in range(n))
    return ArrayPlan.create(ArraySpec("r0_to_dl1", items, "/logs", "/logs"), max_array_size=1000)


def test_a_real_plan_mid_run_counts_done_failed_in_slurm_and_pending() -> None:
    plan = _plan(6)
    for number, element in enumerate(plan.elements):
        if number < 4:
            element.job_id = "100"
    plan.elements[0].final, plan.elements[0].state = True, "COMPLETED"
    plan.elements[1].final, plan.elements[1].state = True, "OUT_OF_MEMORY"
    progress = from_plan("r0_to_dl1", "deferred", read_plan(plan.to_json()))
    assert (progress.total, progress.done, progress.failed) == (6, 1, 1)
    assert (progress.in_slurm, progress.pending) == (2, 2)
    assert progress.percent_done == pytest.approx(16.7)


def test_the_final_report_wins_over_the_plan() -> None:
    report = {
        "name": "merge_dl1",
        "total": 4,
        "completed": 3,
        "job_ids": ["7", "9"],
        "failed": [
            {
                "element": "9_1",
                "key": "e1",
                "state": "TIMEOUT",
                "exit_code": 0,
                "signal": 15,
                "attempts": 3,
                "stderr_tail": "killed",
            }
        ],
    }
    progress = stage_progress("merge_dl1", "failed", {"slurm_report": report}, [_plan(4)])
    assert (progress.done, progress.failed, progress.pending, progress.source) == (
        3,
        1,
        0,
        "report",
    )
    assert progress.job_ids == ("7", "9")
    assert progress.failures[0].stderr_tail == "killed"


def test_latest_plan_is_used_while_no_report_exists() -> None:
    done = _plan(2).to_json()
    for element in done["elements"]:
        element.update(final=True, state="COMPLETED", job_id="5")
    progress = stage_progress("dl1ab", "running", {}, [_plan(2), read_plan(json.dumps(done))])
    assert (progress.done, progress.source) == (2, "plan")


def test_a_task_without_slurm_work_is_complete_only_when_it_succeeded_or_skipped() -> None:
    assert StageProgress("dl1ab", "skipped").percent_done == 100.0
    assert StageProgress("dl1ab", None).percent_done == 0.0
    assert stage_progress("dl1ab", "queued", {"return_value": None}, []).total == 0


def test_live_sacct_states_count_elements_completed_since_the_trigger_last_reported() -> None:
    plan = _plan(3)
    for element in plan.elements:
        element.job_id = "300"
    assert watched_jobs(plan) == {"300"}
    live = {"300_0": "COMPLETED", "300_1": "RUNNING", "300_2": "FAILED"}
    progress = from_plan("dl1_to_dl2", "deferred", plan, live)
    assert (progress.done, progress.failed, progress.in_slurm) == (1, 0, 2)
    assert progress.source == "plan+sacct"
