"""Run labels are safe file names and never shared by two run ids."""

from __future__ import annotations

import pytest

from lstflow.run_label import run_label

pytestmark = pytest.mark.unit


def test_ids_that_sanitize_alike_get_different_labels() -> None:
    labels = {run_label(run_id) for run_id in ("rerun:1", "rerun+1", "rerun_1", "rerun/1")}
    assert len(labels) == 4
    assert all(label.startswith("rerun_1-") for label in labels)


def test_label_is_a_file_name_and_stable() -> None:
    label = run_label("manual__2026-01-01T00:00:00+00:00")
    assert label == run_label("manual__2026-01-01T00:00:00+00:00")
    assert label.startswith("manual__2026-01-01T00_00_00_00_00-")
    assert "/" not in run_label("../../etc") and ".." not in run_label("../../etc").split("/")
