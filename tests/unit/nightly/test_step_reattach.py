"""Nightly calibration steps re-attach to their stored plan after their output appears mid-run.

``drs4_baseline``/``charge_calibration`` plan nothing once their output file exists. Their task
must still resume after the deferral in which their own job wrote that file: the operator
resumes from the spec it stored when it planned, never from a new plan (which would be empty).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

CHECKOUT = Path(__file__).resolve().parents[3]
os.environ.setdefault("AIRFLOW_HOME", str(CHECKOUT / ".lstflow" / "airflow-unit"))

from airflow.sdk.exceptions import TaskDeferred  # noqa: E402
from support.recording_hook import (  # noqa: E402
    RecordingHook,
    StateStore,
    TaskInstance,
    done_event,
)

from lstflow.nightly.step_operator import CALIBRATION_STEPS, NightStepOperator  # noqa: E402
from lstflow.onsite.settings import VERSION_KEYS  # noqa: E402
from lstflow.slurm.reports import SlurmReport  # noqa: E402
from lstflow.slurm.states import SlurmState  # noqa: E402

pytestmark = pytest.mark.unit

NIGHT = dt.datetime(2020, 1, 17, tzinfo=dt.UTC)


def _context(store: StateStore, step: str, try_number: int = 1) -> dict[str, Any]:
    return {
        "dag_run": SimpleNamespace(run_id="scheduled__night", logical_date=NIGHT),
        "params": {"simulate": False, **dict.fromkeys(VERSION_KEYS)},
        "task_state_store": store,
        "ti": TaskInstance(task_id=step, try_number=try_number),
    }


@pytest.mark.parametrize("step", CALIBRATION_STEPS)
def test_calibration_step_resumes_after_its_output_file_appeared(onsite: Path, step: str) -> None:
    hook, store = RecordingHook(), StateStore()
    operator = NightStepOperator(task_id=step, step=step)
    operator._slurm_hook = hook  # type: ignore[assignment]
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(_context(store, step))
    assert deferred.value.trigger.jobs == {"100": [0]}
    (submitted,) = hook.submitted
    (output,) = operator.spec_for(_context(store, step)).items[0].outputs

    # Mid-run, the job writes the calibration file: planning again now finds nothing to do.
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_bytes(b"calibration")
    assert operator.build_array_spec(_context(store, step)).items == ()

    report = operator.execute_complete(
        _context(store, step), done_event(("100_0", SlurmState.COMPLETED, 0))
    )
    resumed = SlurmReport.from_json(report)
    assert resumed.name.endswith(step)
    assert (resumed.total, resumed.completed, resumed.job_ids) == (1, 1, ("100",))

    # A later try of the same task (cleared, or retried after a lost worker) re-attaches too:
    # it finds the element completed and submits nothing.
    retried = NightStepOperator(task_id=step, step=step)
    retried._slurm_hook = hook  # type: ignore[assignment]
    again = SlurmReport.from_json(retried.execute(_context(store, step, try_number=2)))
    assert (again.total, again.completed, again.job_ids) == (1, 1, ("100",))
    assert hook.submitted == [submitted]
