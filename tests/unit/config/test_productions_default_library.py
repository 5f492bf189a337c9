"""``lstflow productions list`` without a path lists the deployment's configured library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lstflow.cli import main

pytestmark = pytest.mark.unit


def test_default_library_is_the_configured_one(
    samples_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(samples_dir))
    assert main(["productions", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {Path(row["path"]).parent.parent for row in listing["productions"]} == {samples_dir}
