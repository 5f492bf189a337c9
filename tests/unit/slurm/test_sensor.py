"""``SlurmJobSensor`` against a recording hook: what it waits for, and how it judges the end.

The real thing (an array submitted by hand over SSH, a real triggerer) is in the cluster tier.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred
from support.recording_hook import RecordingHook, TaskInstance, done_event

from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.reports import SlurmReport
from lstflow.slurm.sensor import SlurmJobFailed, SlurmJobSensor
from lstflow.slurm.states import SlurmState

pytestmark = pytest.mark.unit

EXAMPLE = (
    Path(__file__).resolve().parents[3]
    / "include"
    / "example_dags"
    / "lstflow_example_slurm_sensor.py"
)


def _hook(*elements: ElementId) -> RecordingHook:
    hook = RecordingHook(existing_jobs={"lstosa_calib": {"77"}})
    hook.states = {e: ElementStatus(e, SlurmState.PENDING) for e in elements}
    return hook


def _sensor(hook: RecordingHook, **kwargs: object) -> SlurmJobSensor:
    sensor = SlurmJobSensor(task_id="wait", **kwargs)  # type: ignore[arg-type]
    sensor._slurm_hook = hook  # type: ignore[assignment]
    return sensor


def test_waits_for_every_element_of_named_arrays_and_plain_jobs_without_owning_them() -> None:
    hook = _hook(ElementId("77", 0), ElementId("77", 1), ElementId("80"))
    sensor = _sensor(hook, job_names=["lstosa_calib"], job_ids=["80"], mode="fail_fast")
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"ti": TaskInstance()})
    trigger = deferred.value.trigger
    assert trigger.jobs == {"77": [0, 1], "80": [None]}
    assert trigger.fail_fast and not trigger.cancel_on_kill
    assert SlurmReport.from_json(trigger.success_report) == SlurmReport("wait", 3, 3, ("77", "80"))
    asyncio.run(trigger.on_kill())  # stopping the sensor leaves the jobs alone
    assert hook.commands == [] and hook.submitted == []


def test_unknown_job_names_and_ids_fail_with_what_to_check() -> None:
    with pytest.raises(AirflowFailException, match="no Slurm job named 'nope'"):
        _sensor(_hook(), job_names=["nope"]).execute({})
    with pytest.raises(AirflowFailException, match="knows no job 12"):
        _sensor(_hook(), job_ids=["12"]).execute({})


def test_a_failed_element_fails_the_sensor_with_the_per_element_report() -> None:
    sensor = _sensor(_hook(), job_ids=["77"], mode="fail_fast")
    ti = TaskInstance()
    event = done_event(("77_0", SlurmState.RUNNING, 0), ("77_1", SlurmState.FAILED, 2))
    with pytest.raises(SlurmJobFailed, match="1 of 2 element"):
        sensor.execute_complete({"ti": ti}, event)
    report = SlurmReport.from_json(ti.pushed["slurm_report"])
    assert (report.total, report.completed) == (2, 0)
    (failed,) = report.failed
    assert (failed.element, failed.state, failed.exit_code) == ("77_1", "FAILED", 2)


def test_all_completed_succeeds_with_the_report() -> None:
    sensor = _sensor(_hook(), job_ids=["77"])
    event = done_event(("77_0", SlurmState.COMPLETED, 0), ("77_1", SlurmState.COMPLETED, 0))
    report = SlurmReport.from_json(sensor.execute_complete({"ti": TaskInstance()}, event))
    assert report == SlurmReport("wait", 2, 2, ("77",))


def test_mode_and_targets_are_checked_when_the_dag_is_built() -> None:
    with pytest.raises(ValueError, match="mode 'poke'"):
        SlurmJobSensor(task_id="s", job_ids=["1"], mode="poke")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="give job_ids or job_names"):
        SlurmJobSensor(task_id="s")


def test_example_dag_parses() -> None:
    bag = DagBag(dag_folder=str(EXAMPLE))
    assert bag.import_errors == {}
    task = bag.dags["lstflow_example_slurm_sensor"].get_task("wait_for_lstosa_calibration")
    assert isinstance(task, SlurmJobSensor) and task.mode == "fail_fast"
