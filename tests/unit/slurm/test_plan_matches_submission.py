"""``lstflow plan`` shows exactly the job arrays the Slurm operator submits: one grouping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.library_cases import write_shared_prod_id_library

from lstflow.cli import main
from lstflow.config import load_production
from lstflow.slurm.array_plan import ArrayPlan
from lstflow.stages.base import PlanContext
from lstflow.stages.local_files import LocalFileLister
from lstflow.stages.registry import plan_stage, stages_to_run
from lstflow.workitems import ArraySpec

pytestmark = pytest.mark.unit


def test_plan_arrays_are_the_submitted_chunks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    for particle in ("gamma", "proton"):
        (data / "DL0" / particle).mkdir(parents=True)
        for run in range(3):
            (data / "DL0" / particle / f"{particle}_run{run}.simtel.zst").touch()
    config = write_shared_prod_id_library(tmp_path / "library", str(data), account="aswg").full
    assert (
        main(["plan", "--json", "--max-array-size", "1", "--log-root", "/logs", str(config)]) == 0
    )
    shown = {
        stage["stage"]: [[item["key"] for item in array["items"]] for array in stage["arrays"]]
        for stage in json.loads(capsys.readouterr().out)["stages"]
    }
    production = load_production(config)
    context = PlanContext(
        prod_id=production.prod_id,
        lstchain_config=str(production.lstchain_config),
        log_root="/logs",
        slurm_config=production.slurm_config,
        files=LocalFileLister(),
    )
    chunked = 0
    for stage in stages_to_run(production):
        plan = plan_stage(production, stage, context)
        spec = ArraySpec(stage, plan.items, plan.log_dir, plan.log_dir)
        submitted = ArrayPlan.create(spec, max_array_size=1)
        chunks = [
            [item.key for item in submitted.chunk_items(spec, chunk)]
            for chunk in range(len(submitted.chunk_scripts))
        ]
        assert shown[stage] == chunks, stage
        chunked += len(chunks) > 1
    assert chunked  # the size limit split at least one stage into several arrays
