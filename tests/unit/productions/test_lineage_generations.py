"""A lineage watcher adopts each feeder generation once and submits its own elements when it
alone was cleared (issue #18: clearing one lineage reruns only it), against a recording hook.

The same paths run on the real cluster and Airflow in ``tests/e2e/test_lineage_production.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from support.recording_hook import RecordingHook, StateStore, TaskInstance

from lstflow.productions.lineage_arrays import LineageArray
from lstflow.productions.lineage_generations import SpecSource, spec_source
from lstflow.productions.lineage_operators import (
    ARRAYS_KEY,
    FEEDER_TASK_ID,
    SOURCE_KEY,
    LineageStageOperator,
)
from lstflow.slurm.array_plan import ArrayPlan, RunIdentity
from lstflow.workitems import ArraySpec, Resources, WorkItem

pytestmark = pytest.mark.unit

SPEC = ArraySpec(
    "train_pipe",
    (WorkItem("train_pipe[0]", ("true",), Resources(mem="1G"), outputs=("/data/models_a",)),),
    log_dir="/logs",
    workdir="/logs",
)
ARRAY = LineageArray("train_pipe", "dec_a", SPEC, upstream=())


# ---- the decision --------------------------------------------------------------------------


def test_a_watcher_that_never_ran_adopts_the_feeder() -> None:
    assert spec_source(1, 1, None) == SpecSource(1, adopt=True, feeder_generation=1)


def test_a_watcher_cleared_on_its_own_submits_its_elements_itself() -> None:
    adopted = SpecSource(1, adopt=True, feeder_generation=1)
    assert spec_source(2, 1, adopted) == SpecSource(2, adopt=False, feeder_generation=1)
    # and again on its next clear: the feeder generation it adopted is kept
    own = spec_source(2, 1, adopted)
    assert spec_source(3, 1, own) == SpecSource(3, adopt=False, feeder_generation=1)


def test_a_newer_feeder_generation_is_adopted() -> None:
    own = SpecSource(2, adopt=False, feeder_generation=1)
    assert spec_source(3, 2, own) == SpecSource(3, adopt=True, feeder_generation=2)


def test_a_try_of_the_same_generation_keeps_the_decision() -> None:
    decided = SpecSource(1, adopt=True, feeder_generation=1)
    assert spec_source(1, 1, decided) is decided


def test_the_record_round_trips_through_json() -> None:
    source = SpecSource(3, adopt=False, feeder_generation=2)
    assert SpecSource.from_json(source.to_json()) == source


# ---- the watcher ---------------------------------------------------------------------------


@dataclass
class WatcherTI(TaskInstance):
    """A watcher's task instance whose feeder XCom is ``feeder``."""

    feeder: dict[str, Any] | None = None

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        assert (task_ids, key) == (FEEDER_TASK_ID, ARRAYS_KEY)
        return self.feeder


def feeder_xcom(generation: int, job_id: str) -> dict[str, Any]:
    """What the feeder of ``generation`` pushes: ``ARRAY`` submitted as ``job_id``."""
    plan = ArrayPlan.create(SPEC, 1001)
    plan.round = 1
    who = RunIdentity("dag", "manual__1", "train_pipe", generation=generation)
    (submission,) = plan.submissions(who)
    plan.record_submission(submission, job_id)
    return {
        "generation": generation,
        "arrays": [{"array": ARRAY.to_json(), "plan": plan.to_json()}],
    }


def watcher(hook: RecordingHook) -> LineageStageOperator:
    operator = LineageStageOperator(task_id="train_pipe", stage="train_pipe", lineage_group="dec_a")
    operator._slurm_hook = hook  # type: ignore[assignment]
    return operator


def run(
    operator: LineageStageOperator, store: StateStore, feeder: dict[str, Any], max_tries: int
) -> dict[str, list[int | None]]:
    """One try of the watcher (Airflow's clear raises ``max_tries``); the jobs it watches."""
    ti = WatcherTI(task_id="lineage.train_pipe", map_index=0, max_tries=max_tries, feeder=feeder)
    context = {
        "task_state_store": store,
        "ti": ti,
        "params": {"stages": ["train_pipe"], "overwrite": "overwrite"},
        "run_id": "manual__1",
    }
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    jobs: dict[str, list[int | None]] = deferred.value.trigger.jobs
    return jobs


def test_the_watcher_adopts_once_then_reruns_alone_then_adopts_a_cleared_feeder() -> None:
    hook, store = RecordingHook(next_job_id=500), StateStore()
    first = feeder_xcom(1, "42")
    assert run(watcher(hook), store, first, max_tries=0) == {"42": [0]}
    assert hook.submitted == []
    # A retry of the same generation re-attaches to the adopted job.
    assert run(watcher(hook), store, first, max_tries=0) == {"42": [0]}
    assert hook.submitted == []
    # Cleared on its own: submits its element anew, under a new job name, no dependency.
    assert run(watcher(hook), store, first, max_tries=1) == {"500": [0]}
    (rerun,) = hook.submitted
    assert rerun.job_name.startswith("lstflow.dag.lineage.train_pipe.")
    assert "dependency" not in dict(rerun.options)
    assert SpecSource.from_json(store.get(SOURCE_KEY)) == SpecSource(2, False, 1)
    # The feeder cleared too (whole run): its new generation's job is adopted.
    assert run(watcher(hook), store, feeder_xcom(2, "77"), max_tries=2) == {"77": [0]}
    assert len(hook.submitted) == 1
