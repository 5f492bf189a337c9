"""What the provenance task records: config paths as inputs/outputs, per-element usage rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstflow.config import load_production
from lstflow.productions.run_provenance import config_paths, usage_rows
from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.states import SlurmState

pytestmark = pytest.mark.unit

DEMO = Path(__file__).resolve().parents[3] / "include" / "production_configs" / "demo"


def test_usage_rows_keep_the_elements_of_the_stage_jobs_only() -> None:
    usage = {
        ElementId("501", 0): ElementStatus(
            ElementId("501", 0), SlurmState.COMPLETED, elapsed_s=42.0, max_rss_bytes=1024
        ),
        ElementId("502", None): ElementStatus(ElementId("502"), SlurmState.CANCELLED),
    }
    assert usage_rows(usage, {"501"}) == [
        {"job_id": "501_0", "state": "COMPLETED", "elapsed_s": 42.0, "max_rss_bytes": 1024}
    ]
    assert usage_rows(usage, {"502"})[0]["state"] == "CANCELLED"


def test_inputs_are_the_config_paths_no_run_stage_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSTFLOW_DATA_ROOT", "/data")
    monkeypatch.setenv("LSTFLOW_ANALYSIS_ENV", "/env")
    config = next(Path(DEMO, "lstflow_demo_analysis").glob("*.yaml"))
    production = load_production(config)
    paths = config_paths(production, production.stages_to_run)
    assert "/data/demo/models" in paths["outputs"]
    assert "/data/demo/models" not in paths["inputs"]
    assert paths["inputs"] and not set(paths["inputs"]) & set(paths["outputs"])
    assert all(p.startswith("/data/demo/") for p in paths["inputs"] + paths["outputs"])
