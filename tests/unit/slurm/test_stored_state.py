"""The spec and plan a task stores: compressed so they fit any Airflow metadata DB (#15.6)."""

from __future__ import annotations

import json

import pytest

from lstflow.config.schema import MAX_ENTRIES
from lstflow.slurm import array_plan
from lstflow.slurm.array_plan import (
    COMPRESSED_PREFIX,
    MAX_STORED_BYTES,
    ArrayPlan,
    StoredValueTooLarge,
    read_plan,
    read_spec,
    stored_value,
)
from lstflow.workitems import ArraySpec, Resources, WorkItem

pytestmark = pytest.mark.unit

#: MySQL's MEDIUMTEXT, the smallest value column of Airflow's metadata DBs.
MEDIUMTEXT_BYTES = 16 * 1024 * 1024 - 1


def production_spec(entries: int) -> ArraySpec:
    """A stage as large as a production may be, with lstchain-like command lines."""
    base = "/fefs/aswg/data/mc/DL0/20240918_v0.10.12_allsky_nsb_tuning_0.14/TrainingDataset"
    items = tuple(
        WorkItem(
            key=f"r0_to_dl1.gamma.node_theta_{k % 97}_az_{k % 360}.run{k:06d}",
            argv=(
                "python", "-m", "lstflow.jobs", "run", "--",
                "lstchain_mc_r0_to_dl1",
                f"--input-file={base}/dec_{k % 7}/gamma/run{k:06d}.simtel.zst",
                f"--output-dir=/fefs/aswg/data/mc/DL1/prod_{k % 7}/gamma/node_{k % 97}",
                "--config=/fefs/aswg/workspace/analysis/lstchain_config.json",
            ),
            resources=Resources(partition="short", mem="6G", time="02:00:00"),
            outputs=(f"/fefs/aswg/data/mc/DL1/prod_{k % 7}/gamma/dl1_run{k:06d}.h5",),
        )
        for k in range(entries)
    )  # fmt: skip
    return ArraySpec("r0_to_dl1", items, "/fefs/logs", "/fefs/work", (("source", "/env"),))


def test_a_stage_at_the_entry_limit_is_stored_compact_and_reads_back_unchanged() -> None:
    spec = production_spec(MAX_ENTRIES)
    plan = ArrayPlan.create(spec, max_array_size=1001)
    spec_json, plan_json = spec.to_json(), plan.to_json()
    stored_spec, stored_plan = stored_value(spec_json, "s"), stored_value(plan_json, "s")
    for value, data in ((stored_spec, spec_json), (stored_plan, plan_json)):
        assert value.startswith(COMPRESSED_PREFIX)
        # far below MySQL's MEDIUMTEXT, which the uncompressed spec nearly filled
        assert len(value) < min(MEDIUMTEXT_BYTES, len(json.dumps(data))) // 8
    assert read_spec(stored_spec) == spec
    assert read_plan(stored_plan).elements == plan.elements
    # A reader of the task_state_store table (the UI) gets the JSON column's text: a quoted
    # string; the demo's progress console and every lstflow page read it that way.
    assert read_spec(json.dumps(stored_spec)) == spec
    assert read_plan(json.dumps(stored_plan)).elements == plan.elements


def test_values_stored_before_compression_still_read() -> None:
    spec = production_spec(3)
    plan = ArrayPlan.create(spec, max_array_size=1001)
    assert read_spec(json.dumps(spec.to_json())) == spec == read_spec(spec.to_json())
    assert read_plan(json.dumps(plan.to_json())).to_json() == plan.to_json()
    assert read_plan(plan.to_json()).to_json() == plan.to_json()


def test_a_value_over_the_store_limit_is_refused_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert MAX_STORED_BYTES < MEDIUMTEXT_BYTES
    monkeypatch.setattr(array_plan, "MAX_STORED_BYTES", 2_000)
    with pytest.raises(StoredValueTooLarge, match=r"r0_to_dl1: .* bytes compressed.*split"):
        stored_value(production_spec(500).to_json(), "r0_to_dl1")
