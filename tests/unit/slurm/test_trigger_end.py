"""How a finished trigger hands back: end the task itself, or resume it on a worker."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowException, TaskDeferred
from airflow.triggers.base import TaskSuccessEvent, TriggerEvent

from lstflow.slurm import trigger as trigger_module
from lstflow.slurm.array_plan import ArrayPlan, RunIdentity
from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.operator import ENDED_BY_TRIGGER, SlurmArrayOperator, _event_statuses
from lstflow.slurm.policy import PollSettings
from lstflow.slurm.poller import StatusWatch
from lstflow.slurm.reports import FailedElement, SlurmReport, pull_report
from lstflow.slurm.states import SlurmState
from lstflow.workitems import ArraySpec, WorkItem

pytestmark = pytest.mark.unit

REPORT = {"name": "stage", "total": 2, "completed": 2, "job_ids": ["5"], "failed": [], "omitted": 0}
SPEC = ArraySpec("stage", (WorkItem("a", ("true",)), WorkItem("b", ("true",))), "/l", "/w")


@pytest.fixture
def settles(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The settle delays the trigger asked for (without waiting them)."""
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(trigger_module.asyncio, "sleep", record)
    return delays


def _final_event(report: dict[str, Any] | None, second: SlurmState) -> TriggerEvent:
    trigger = trigger_module.SlurmArrayTrigger(
        ssh_conn_id="c", jobs={"5": [0, 1]}, label="stage", total=2, success_report=report
    )

    async def run() -> TriggerEvent:
        watch = StatusWatch({"5": [0, 1]}, PollSettings(sacct_grace_period=0))
        watch.absorb(
            {
                ElementId("5", 0): ElementStatus(ElementId("5", 0), SlurmState.COMPLETED),
                ElementId("5", 1): ElementStatus(ElementId("5", 1), second, exit_code=1),
            },
            now=0.0,
        )
        return await trigger._final_event(watch, deferred_at=trigger_module.time.monotonic())

    return asyncio.run(run())


def test_all_completed_with_a_report_ends_the_task_at_once(settles: list[float]) -> None:
    event = _final_event(REPORT, SlurmState.COMPLETED)
    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms == {"return_value": REPORT}
    assert settles == []  # no worker resumes, so no race to wait out


def test_a_failed_element_resumes_the_worker_after_the_settle(settles: list[float]) -> None:
    event = _final_event(REPORT, SlurmState.FAILED)
    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload["status"] == "done"
    assert [row["state"] for row in event.payload["elements"]] == ["COMPLETED", "FAILED"]
    assert settles and settles[0] > 4


def test_without_a_report_the_worker_always_resumes(settles: list[float]) -> None:
    event = _final_event(None, SlurmState.COMPLETED)
    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload["status"] == "done"


def test_the_report_survives_a_triggerer_restart() -> None:
    trigger = trigger_module.SlurmArrayTrigger(
        ssh_conn_id="c", jobs={"5": [0]}, label="s", total=1, success_report=REPORT
    )
    _, kwargs = trigger.serialize()
    assert trigger_module.SlurmArrayTrigger(**kwargs).success_report == REPORT


def _deferred_trigger(operator: SlurmArrayOperator, plan: ArrayPlan) -> Any:
    with pytest.raises(TaskDeferred) as deferred:
        operator._defer_or_finish(plan, SPEC, {})
    return deferred.value.trigger


def _submitted_plan() -> ArrayPlan:
    plan = ArrayPlan.create(SPEC, max_array_size=1000)
    (submission,) = plan.submissions(RunIdentity("d", "r", "stage"))
    plan.record_submission(submission, "5")
    return plan


def test_operator_offers_the_final_report_only_when_nothing_failed_and_no_outlets() -> None:
    plan = _submitted_plan()
    trigger = _deferred_trigger(SlurmArrayOperator(task_id="stage"), plan)
    assert trigger.success_report == REPORT

    with_outlets = SlurmArrayOperator(task_id="stage", outlets=[Asset("models")])
    assert _deferred_trigger(with_outlets, plan).success_report is None

    plan.elements[0].final, plan.elements[0].state = True, "FAILED"
    plan.elements[0].job_id = "4"
    assert _deferred_trigger(SlurmArrayOperator(task_id="stage"), plan).success_report is None


def test_resumed_with_the_end_event_every_watched_element_completed() -> None:
    """``dag.test()`` resumes the task with the TaskSuccessEvent's payload."""
    statuses = _event_statuses(SPEC, _submitted_plan(), ENDED_BY_TRIGGER)
    assert [(str(s.element), s.state) for s in statuses] == [
        ("5_0", SlurmState.COMPLETED),
        ("5_1", SlurmState.COMPLETED),
    ]
    with pytest.raises(AirflowException, match="stage: squeue failed"):
        _event_statuses(SPEC, _submitted_plan(), {"status": "error", "message": "squeue failed"})


class _Pulls:
    """A task instance whose ``xcom_pull`` answers from a dict of keys."""

    def __init__(self, xcoms: dict[str, Any]) -> None:
        self.xcoms = xcoms

    def xcom_pull(self, *, task_ids: str, key: str, **_: Any) -> Any:
        return self.xcoms.get(key)


def test_pulled_report_is_decoded_when_the_triggerer_stored_it_as_json_text() -> None:
    expected = SlurmReport("stage", 2, 2, ("5",))
    assert pull_report(_Pulls({"return_value": json.dumps(REPORT)}), "stage") == expected
    assert pull_report(_Pulls({"return_value": REPORT}), "stage") == expected
    failed = {**REPORT, "completed": 1}
    assert pull_report(_Pulls({"slurm_report": failed}), "stage") == SlurmReport.from_json(failed)
    assert pull_report(_Pulls({"return_value": "not json"}), "stage") is None


def test_report_round_trips_through_json_with_its_failed_elements() -> None:
    report = SlurmReport(
        "stage",
        3,
        2,
        ("5", "6"),
        (FailedElement("6_0", "b", "FAILED", 1, 0, 3, "true", stderr_tail="boom"),),
    )
    assert SlurmReport.from_json(json.dumps(report.to_json())) == report
