"""lstchain's verdict on a config JSON is cached by content: re-validating an unchanged library
imports no lstchain (no subprocess), and an edited JSON is checked again."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from config_helpers import MINIMAL, WriteConfig

from lstflow.cli import main

pytestmark = pytest.mark.unit

BAD_EXTRACTOR = '{"image_extractor": "NoSuchExtractor"}'


def test_unchanged_json_is_not_checked_twice_and_an_edit_is(
    write_config: WriteConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_config(MINIMAL.format(prod_id="cached"))
    json_file = path.parent / "lstchain_config.json"
    json_file.write_text(BAD_EXTRACTOR)
    argv = ["validate", "--cache-dir", str(tmp_path / "cache"), str(path)]
    checker_runs: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(command: list[str], *args: Any, **kwargs: Any) -> Any:
        checker_runs.append(command)
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)

    assert main(argv) == 1
    first = capsys.readouterr().out
    assert main(argv) == 1
    second = capsys.readouterr().out
    assert len(checker_runs) == 1  # the second validation reused lstchain's verdict
    assert "'NoSuchExtractor.apply_integration_correction'" in first
    assert second == first

    json_file.write_text(BAD_EXTRACTOR.replace("NoSuchExtractor", "OtherExtractor"))
    assert main(argv) == 1
    assert len(checker_runs) == 2
    assert "'OtherExtractor.apply_integration_correction'" in capsys.readouterr().out
