"""How a ``StatusWatch`` reads a poll cycle: grace for sacct lag, success never assumed."""

from __future__ import annotations

import asyncio

import pytest

from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.policy import PollSettings
from lstflow.slurm.poller import StatusWatch
from lstflow.slurm.states import SlurmState

pytestmark = pytest.mark.unit

SETTINGS = PollSettings(poll_interval=1, sacct_grace_period=10)


def _watch() -> StatusWatch:
    async def make() -> StatusWatch:
        return StatusWatch({"5": [0, 1]}, SETTINGS)

    return asyncio.run(make())


def _status(index: int, state: SlurmState, **fields: object) -> dict[ElementId, ElementStatus]:
    element = ElementId("5", index)
    return {element: ElementStatus(element, state, **fields)}  # type: ignore[arg-type]


def test_missing_elements_are_pending_during_grace_then_a_loud_error() -> None:
    watch = _watch()
    watch.absorb({}, now=0.0)
    assert watch.error is None and not watch.finished(0.0)
    watch.absorb({}, now=11.0)
    assert watch.error is not None and "neither squeue nor sacct" in watch.error


def test_finished_only_when_every_element_is_final() -> None:
    watch = _watch()
    changed = watch.absorb(
        {**_status(0, SlurmState.COMPLETED), **_status(1, SlurmState.RUNNING)}, now=0.0
    )
    assert changed and not watch.finished(0.0)
    assert not watch.absorb(
        {**_status(0, SlurmState.COMPLETED), **_status(1, SlurmState.RUNNING)}, now=1.0
    )
    watch.absorb(
        {**_status(0, SlurmState.COMPLETED), **_status(1, SlurmState.FAILED, exit_code=1)}, now=2.0
    )
    assert watch.finished(2.0)


def test_failure_waits_for_its_exit_code_within_grace() -> None:
    watch = _watch()
    rows = {**_status(0, SlurmState.COMPLETED), **_status(1, SlurmState.FAILED)}
    watch.absorb(rows, now=0.0)
    assert watch.needs_accounting() == {"5"}
    assert not watch.finished(5.0)
    watch.absorb(rows, now=11.0)
    assert watch.error is None
    assert watch.finished(11.0)  # reported with an unknown exit code rather than hanging
