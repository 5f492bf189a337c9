"""The nightly DAG's tests: a synthetic onsite tree and the Airflow options pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstflow.nightly.step_operator import NightStepOperator
from lstflow.onsite.files import OnsiteFiles
from lstflow_dev import synthetic_onsite
from lstflow_dev.local_onsite_files import LocalOnsiteFiles


@pytest.fixture
def onsite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A synthetic three-night tree, and the Airflow options that point the DAG at it; the step
    operators read it from the local disk (the cluster tier reads it over SSH)."""
    base = tmp_path / "onsite"
    synthetic_onsite.build_synthetic_tree(base)
    config = synthetic_onsite.write_settings(tmp_path / "config")
    monkeypatch.setenv("AIRFLOW__LSTFLOW__ONSITE_CONFIG", str(config))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__ONSITE_BASE", str(base))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__JOB_PYTHON", "/envs/lstflow/bin/python")

    def local_files(_operator: NightStepOperator) -> OnsiteFiles:
        return LocalOnsiteFiles()

    monkeypatch.setattr(NightStepOperator, "onsite_files", local_files)
    return base
