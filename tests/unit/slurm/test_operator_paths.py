"""``SlurmArrayOperator``'s submit, resume and retry paths against a recording hook.

The same paths run against the real cluster in ``tests/cluster/test_slurm_operator.py``; here
each decision (what is planned, stored, submitted, adopted, re-attached and reported) is checked
in isolation, fast.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from support.recording_hook import RecordingHook, StateStore, TaskInstance, done_event

from lstflow.slurm.array_plan import ArrayPlan, plan_key
from lstflow.slurm.operator import SPEC_KEY, SlurmArrayFailed, SlurmArrayOperator
from lstflow.slurm.policy import RetryPolicy
from lstflow.slurm.reports import SlurmReport
from lstflow.slurm.states import SlurmState
from lstflow.workitems import ArraySpec, Resources, WorkItem

pytestmark = pytest.mark.unit

SMALL = Resources(mem="1G")
BIG = Resources(mem="8G")
SPEC = ArraySpec(
    "stage",
    (
        WorkItem("a", ("true",), SMALL),
        WorkItem("b", ("true",), SMALL),
        WorkItem("c", ("true",), BIG),
    ),
    log_dir="/logs",
    workdir="/work",
)


class Recorded(SlurmArrayOperator):
    """The operator with the recording hook, counting how often it plans."""

    def __init__(self, *, hook: RecordingHook, specs: list[ArraySpec], **kwargs: Any) -> None:
        super().__init__(task_id="stage", **kwargs)
        self._slurm_hook = hook  # type: ignore[assignment]
        self.specs = specs
        self.plannings = 0

    def build_array_spec(self, context: Any) -> ArraySpec:
        self.plannings += 1
        return self.specs[min(self.plannings, len(self.specs)) - 1]


def _context(store: StateStore, try_number: int = 1, max_tries: int = 0) -> dict[str, Any]:
    ti = TaskInstance(try_number=try_number, max_tries=max_tries)
    return {"task_state_store": store, "ti": ti}


def _deferred(call: Any, *args: Any) -> dict[str, list[int | None]]:
    with pytest.raises(TaskDeferred) as deferred:
        call(*args)
    jobs: dict[str, list[int | None]] = deferred.value.trigger.jobs
    return jobs


def test_submit_plans_once_stores_spec_and_plan_and_sbatches_one_array_per_resource_set() -> None:
    hook, store = RecordingHook(), StateStore()
    operator = Recorded(hook=hook, specs=[SPEC])
    jobs = _deferred(operator.execute, _context(store))
    assert [(s.array, dict(s.options)["mem"]) for s in hook.submitted] == [
        ("0-1", "1G"),
        ("0", "8G"),
    ]
    assert jobs == {"100": [0, 1], "101": [0]}
    assert ArraySpec.from_json(store.get(SPEC_KEY)) == SPEC
    plan = ArrayPlan.from_json(store.get(plan_key(SPEC)))
    assert plan.job_ids == ["100", "101"] and not plan.submitting
    assert any("mkdir" in command for command in hook.commands)  # scripts written first


def test_resume_resubmits_only_the_failed_element_and_then_reports() -> None:
    hook, store = RecordingHook(), StateStore()
    operator = Recorded(hook=hook, specs=[SPEC])
    _deferred(operator.execute, _context(store))
    event = done_event(
        ("100_0", SlurmState.COMPLETED, 0),
        ("100_1", SlurmState.OUT_OF_MEMORY, 0),
        ("101_0", SlurmState.COMPLETED, 0),
    )
    jobs = _deferred(operator.execute_complete, _context(store), event)
    retry = hook.submitted[-1]
    assert (retry.array, dict(retry.options)["mem"]) == ("1", "2G")  # escalated memory
    assert jobs == {"102": [1]}
    report = operator.execute_complete(
        _context(store), done_event(("102_1", SlurmState.COMPLETED, 0))
    )
    assert SlurmReport.from_json(report) == SlurmReport("stage", 3, 3, ("100", "101", "102"))
    assert len(hook.submitted) == 3
    assert operator.plannings == 1  # planned once, every later call read the stored spec


def test_elements_failing_beyond_their_retries_fail_the_task_with_the_report() -> None:
    hook, store = RecordingHook(), StateStore()
    operator = Recorded(hook=hook, specs=[SPEC], retry_policy=RetryPolicy(max_element_retries=0))
    _deferred(operator.execute, _context(store))
    context = _context(store)
    event = done_event(
        ("100_0", SlurmState.COMPLETED, 0),
        ("100_1", SlurmState.FAILED, 3),
        ("101_0", SlurmState.COMPLETED, 0),
    )
    with pytest.raises(SlurmArrayFailed, match="1 of 3 elements failed"):
        operator.execute_complete(context, event)
    report = SlurmReport.from_json(context["ti"].pushed["slurm_report"])
    (failed,) = report.failed
    assert (failed.element, failed.key, failed.state, failed.exit_code) == (
        "100_1",
        "b",
        "FAILED",
        3,
    )
    assert failed.stderr_log == "/logs/stage_100_1.err"


def test_a_retried_try_re_attaches_to_running_jobs_without_planning_or_submitting() -> None:
    hook, store = RecordingHook(), StateStore()
    _deferred(Recorded(hook=hook, specs=[SPEC]).execute, _context(store))
    changed = ArraySpec("stage", (WorkItem("z", ("false",)),), "/logs", "/work")
    retried = Recorded(hook=hook, specs=[changed])  # what planning now would give: must not be used
    jobs = _deferred(retried.execute, _context(store, try_number=2))
    assert jobs == {"100": [0, 1], "101": [0]}
    assert retried.plannings == 0 and len(hook.submitted) == 2


def test_a_try_that_died_mid_round_adopts_the_job_it_already_submitted() -> None:
    hook, store = RecordingHook(), StateStore()
    _deferred(Recorded(hook=hook, specs=[SPEC]).execute, _context(store))
    # The first try's record of its second sbatch never reached the store.
    plan = ArrayPlan.from_json(store.get(plan_key(SPEC)))
    for element in plan.elements:
        if element.job_id == "101":
            element.job_id, element.attempts = None, 0
    plan.job_ids.remove("101")
    plan.submitting = True
    store.set(plan_key(SPEC), plan.to_json())
    jobs = _deferred(Recorded(hook=hook, specs=[SPEC]).execute, _context(store, try_number=2))
    assert len(hook.submitted) == 2  # job 101 adopted by its deterministic name, not resubmitted
    assert jobs == {"100": [0, 1], "101": [0]}


def test_a_new_try_reruns_elements_that_ended_failed_with_a_fresh_budget() -> None:
    hook, store = RecordingHook(), StateStore()
    operator = Recorded(hook=hook, specs=[SPEC], retry_policy=RetryPolicy(max_element_retries=0))
    _deferred(operator.execute, _context(store))
    with pytest.raises(SlurmArrayFailed):
        operator.execute_complete(
            _context(store),
            done_event(
                ("100_0", SlurmState.COMPLETED, 0),
                ("100_1", SlurmState.FAILED, 1),
                ("101_0", SlurmState.COMPLETED, 0),
            ),
        )
    jobs = _deferred(operator.execute, _context(store, try_number=2))
    assert jobs == {"102": [1]}
    assert hook.submitted[-1].array == "1"


def test_a_cleared_task_plans_afresh_and_submits_under_new_job_names() -> None:
    hook, store = RecordingHook(), StateStore()
    rerun = ArraySpec("stage", SPEC.items[:1], "/logs", "/work")
    operator = Recorded(hook=hook, specs=[SPEC, rerun])
    _deferred(operator.execute, _context(store))
    completed = [(element, SlurmState.COMPLETED, 0) for element in ("100_0", "100_1", "101_0")]
    operator.execute_complete(_context(store), done_event(*completed))
    first_names = {submission.job_name for submission in hook.submitted}
    # Airflow's clear sets max_tries = try_number + retries: generation 2 starts at try 2.
    jobs = _deferred(operator.execute, _context(store, try_number=2, max_tries=1))
    assert operator.plannings == 2  # the stored spec of generation 1 is not reused
    assert jobs == {"102": [0]}
    assert hook.submitted[-1].job_name not in first_names


def test_nothing_to_do_submits_nothing_and_reports_an_empty_stage() -> None:
    hook, store = RecordingHook(), StateStore()
    empty = ArraySpec("stage", (), "/logs", "/work")
    report = Recorded(hook=hook, specs=[empty]).execute(_context(store))
    assert SlurmReport.from_json(report) == SlurmReport.nothing_to_do("stage")
    assert hook.submitted == [] and hook.commands == []
