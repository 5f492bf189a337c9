"""The nightly DAG's tests: a synthetic onsite tree and the Airflow options pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstflow_dev import synthetic_onsite


@pytest.fixture
def onsite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A synthetic three-night tree, and the Airflow options that point the DAG at it."""
    base = tmp_path / "onsite"
    synthetic_onsite.build_synthetic_tree(base)
    config = synthetic_onsite.write_settings(tmp_path / "config")
    monkeypatch.setenv("AIRFLOW__LSTFLOW__ONSITE_CONFIG", str(config))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__ONSITE_BASE", str(base))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__JOB_PYTHON", "/envs/lstflow/bin/python")
    return base
