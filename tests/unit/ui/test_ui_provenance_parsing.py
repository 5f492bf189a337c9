"""Parsing of what the provenance task reads from the cluster (sacct, sizes, config paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstflow.config import load_production
from lstflow.productions.run_provenance import (
    config_paths,
    elapsed_seconds,
    element_usage,
    parse_sizes,
    rss_bytes,
)
from lstflow.project import include_dir

pytestmark = pytest.mark.unit

DEMO = include_dir() / "production_configs" / "demo"


def test_sacct_elapsed_forms() -> None:
    assert elapsed_seconds("00:01:05") == 65
    assert elapsed_seconds("1-02:00:00") == 93600
    assert elapsed_seconds("03:07.250") == pytest.approx(187.25)
    assert elapsed_seconds("") is None


def test_sacct_maxrss_units() -> None:
    assert rss_bytes("2048K") == 2 * 1024 * 1024
    assert rss_bytes("1.5G") == int(1.5 * 2**30)
    assert rss_bytes("0") == 0
    assert rss_bytes("") is None


def test_usage_takes_elapsed_from_the_allocation_and_memory_from_its_largest_step() -> None:
    output = (
        "501_0|00:00:42||COMPLETED\n"
        + "501_0.batch|00:00:42|81234K|COMPLETED\n"
        + "501_0.extern|00:00:42|1024K|COMPLETED\n"
        + "501_1|00:01:00||OUT_OF_MEMORY\n"
        + "501_1.batch|00:01:00|2G|OUT_OF_MEMORY\n"
        + "502|00:00:03||CANCELLED by 1001\n"
    )
    usage = element_usage(output)
    assert usage["501_0"] == {
        "job_id": "501_0",
        "state": "COMPLETED",
        "elapsed_s": 42.0,
        "max_rss_bytes": 81234 * 1024,
    }
    assert usage["501_1"]["state"] == "OUT_OF_MEMORY"
    assert usage["501_1"]["max_rss_bytes"] == 2 * 2**30
    assert usage["502"] == {
        "job_id": "502",
        "state": "CANCELLED",
        "elapsed_s": 3.0,
        "max_rss_bytes": None,
    }


def test_usage_rejects_a_line_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="unexpected line"):
        element_usage("501_0|00:00:42\n")


def test_sizes_of_files_directories_and_missing_paths() -> None:
    output = (
        "dir\x004096\x003\x00/d/DL1\x00file\x0012\x001\x00/d/a.h5\x00missing\x00\x00\x00/d/x\x00"
    )
    rows = parse_sizes(output)
    assert rows["/d/DL1"] == {"path": "/d/DL1", "kind": "dir", "size": 4096, "files": 3}
    assert rows["/d/a.h5"]["size"] == 12
    assert rows["/d/x"] == {"path": "/d/x", "kind": "missing", "size": None, "files": None}


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
