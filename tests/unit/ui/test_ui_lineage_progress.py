"""Per-lineage progress on the production page: each declination's elements per stage, from
the specs, plans and reports the stage tasks store (the real planners' work items)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstflow.config import ProductionConfig, load_production
from lstflow.slurm.array_plan import ArrayPlan, read_plan, read_spec
from lstflow.stages.base import PlanContext
from lstflow.stages.lineage import SHARED_BY_ALL, build_lineage
from lstflow.stages.registry import plan_stage
from lstflow.ui.airflow_db import RunInfo
from lstflow.ui.lineage_progress import LineageCell, StageRecord, lineage_rows
from lstflow.ui.production_rows import ProductionRow
from lstflow.ui.progress import StageProgress
from lstflow.ui.render import render
from lstflow.workitems import ArraySpec

pytestmark = pytest.mark.unit

TWO_DECS = """\
workflow_kind: lstchain
prod_id: two_decs
source_environment:
  source_file: /opt/venv/bin/activate
stages_to_run: [merge_dl1, train_pipe, dl1_to_dl2, dl2_to_irfs]
stages:
  merge_dl1:
  - {input: /dl1/test/node_a, output: /dl1/test/dl1_node_a_merged.h5}
  - {input: /dl1/train/gamma/dec_2276, output: /dl1/train/dec_2276_gamma.h5}
  - {input: /dl1/train/proton/dec_2276, output: /dl1/train/dec_2276_proton.h5}
  - {input: /dl1/train/gamma/dec_3476, output: /dl1/train/dec_3476_gamma.h5}
  - {input: /dl1/train/proton/dec_3476, output: /dl1/train/dec_3476_proton.h5}
  train_pipe:
  - input: {gamma: /dl1/train/dec_2276_gamma.h5, proton: /dl1/train/dec_2276_proton.h5}
    output: /models/dec_2276
  - input: {gamma: /dl1/train/dec_3476_gamma.h5, proton: /dl1/train/dec_3476_proton.h5}
    output: /models/dec_3476
  dl1_to_dl2:
  - {input: /dl1/test/dl1_node_a_merged.h5, output: /dl2/dec_2276, path_model: /models/dec_2276}
  - {input: /dl1/test/dl1_node_a_merged.h5, output: /dl2/dec_3476, path_model: /models/dec_3476}
  dl2_to_irfs:
  - input: {gamma_file: /dl2/dec_2276/dl2_node_a_merged.h5}
    output: /irf/dec_2276.fits.gz
  - input: {gamma_file: /dl2/dec_3476/dl2_node_a_merged.h5}
    output: /irf/dec_3476.fits.gz
"""
STAGES = ("merge_dl1", "train_pipe", "plot_rf_feat", "dl1_to_dl2", "dl2_to_irfs")


@pytest.fixture
def production(tmp_path: Path) -> ProductionConfig:
    path = tmp_path / "lstmcpipe_config.yaml"
    path.write_text(TWO_DECS)
    (tmp_path / "lstchain_config.json").write_text("{}")
    return load_production(path)


def stored_spec(production: ProductionConfig, stage: str) -> ArraySpec:
    """The spec a stage task stores, as the UI reads it back from the state store."""
    context = PlanContext(production.prod_id, "/cfg/lstchain.json", "/logs")
    plan = plan_stage(production, stage, context)
    return read_spec(ArraySpec(stage, plan.items, plan.log_dir, plan.log_dir).to_json())


def test_cells_follow_each_stage_task_per_declination(production: ProductionConfig) -> None:
    lineage = build_lineage(production)
    assert [group.name for group in lineage.groups] == ["dec_2276", "dec_3476", SHARED_BY_ALL]
    merge = stored_spec(production, "merge_dl1")
    train = stored_spec(production, "train_pipe")
    irfs = stored_spec(production, "dl2_to_irfs")
    # train_pipe still deferred: dec_2276 trained, dec_3476 still in Slurm.
    plan = ArrayPlan.create(train, max_array_size=1000)
    for element in plan.elements:
        element.job_id = "41"
    first = next(e for e in plan.elements if train.items[e.item].key == "train_pipe[0]")
    first.final, first.state = True, "COMPLETED"
    # dl2_to_irfs finished (in a later run): dec_3476's IRF failed.
    failed = {
        "element": "50_1",
        "key": "dl2_to_irfs[1]",
        "state": "FAILED",
        "exit_code": 1,
        "signal": None,
        "attempts": 3,
    }
    irf_report = {"name": "dl2_to_irfs", "total": 2, "completed": 1, "job_ids": ["50"]}
    records = {
        "merge_dl1": StageRecord(
            merge,
            xcoms={
                "return_value": {"name": "merge_dl1", "total": 5, "completed": 5, "job_ids": ["40"]}
            },
        ),
        "train_pipe": StageRecord(train, plans=[read_plan(plan.to_json())]),
        "dl2_to_irfs": StageRecord(
            irfs, xcoms={"slurm_report": {**irf_report, "failed": [failed]}}
        ),
    }
    rows = {row.group: row.cells for row in lineage_rows(lineage, STAGES, records)}
    assert rows["dec_2276"]["merge_dl1"] == LineageCell(total=2, done=2)
    assert rows[SHARED_BY_ALL]["merge_dl1"] == LineageCell(total=1, done=1)
    assert rows["dec_2276"]["train_pipe"] == LineageCell(total=1, done=1)
    assert rows["dec_3476"]["train_pipe"] == LineageCell(total=1, in_slurm=1)
    # Not planned yet: the group's entries (the shared merge has no DL2 of its own).
    assert rows["dec_3476"]["dl1_to_dl2"] == LineageCell(total=1, planned=False)
    assert rows[SHARED_BY_ALL]["dl1_to_dl2"] == LineageCell(total=0, planned=False)
    assert rows["dec_2276"]["dl2_to_irfs"] == LineageCell(total=1, done=1)
    assert rows["dec_3476"]["dl2_to_irfs"] == LineageCell(total=1, failed=1)
    # Live sacct states count elements completed since the trigger last reported.
    live = {str(e.element_id): "COMPLETED" for e in plan.elements if not e.final}
    rows = {row.group: row.cells for row in lineage_rows(lineage, STAGES, records, live)}
    assert rows["dec_3476"]["train_pipe"] == LineageCell(total=1, done=1)


def test_production_page_renders_the_lineage_table(production: ProductionConfig) -> None:
    lineage = build_lineage(production)
    rows = lineage_rows(
        lineage, STAGES, {"merge_dl1": StageRecord(stored_spec(production, "merge_dl1"))}
    )
    html = render(
        "production.html",
        base="/lstflow",
        airflow_base="",
        row=ProductionRow("two_decs", "mc_two_decs", "/cfg.yml", STAGES, {}, "env", ""),
        run=RunInfo("mc_two_decs", "manual__1", "running", None, None),
        runs=[],
        stages=[StageProgress(stage=stage, task_state=None) for stage in STAGES],
        lineages=rows,
        plots=[],
        run_config="",
        histograms=[],
        provenance=None,
        provenance_path="",
        provenance_note="",
    )
    assert '<table id="lineages">' in html
    assert 'data-lineage="dec_2276"' in html and 'data-lineage="shared by all"' in html
    assert "0/2" in html  # dec_2276's two merges planned, none done yet
    assert "1 entries" in html  # dec_2276's training, not planned yet
