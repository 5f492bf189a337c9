"""``ClusterFiles`` output parsing (the snippets themselves run in the cluster tier)."""

from __future__ import annotations

import pytest

from lstflow.slurm.cluster_files import PathSize, parse_sizes, parse_versions

pytestmark = pytest.mark.unit


def test_sizes_of_files_directories_and_missing_paths() -> None:
    output = (
        "dir\x004096\x003\x00/d/DL1\x00file\x0012\x001\x00/d/a.h5\x00missing\x00\x00\x00/d/x\x00"
    )
    rows = parse_sizes(output)
    assert rows["/d/DL1"] == PathSize("/d/DL1", "dir", 4096, 3)
    assert rows["/d/a.h5"].size == 12
    assert rows["/d/x"] == PathSize("/d/x", "missing", None, None)


def test_versions_of_files_leave_missing_paths_out() -> None:
    output = "2026-12-06 07:15:41.873598320 +0000 3 2149357\x00/d/plot.png\x00"
    assert parse_versions(output) == {
        "/d/plot.png": "2026-12-06 07:15:41.873598320 +0000 3 2149357"
    }
    assert parse_versions("") == {}
