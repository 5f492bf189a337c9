"""Fixtures of the config tests: the real sample productions and configs in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import WriteConfig, sample_data_root


@pytest.fixture
def samples_dir() -> Path:
    return sample_data_root() / "lstmcpipe_production_samples"


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write ``text`` as ``<subdir>/lstmcpipe_config.yaml`` with an lstchain JSON beside it."""

    def write(text: str, subdir: str = "prod", name: str = "lstmcpipe_config.yaml") -> Path:
        directory = tmp_path / subdir
        directory.mkdir(parents=True, exist_ok=True)
        json_file = directory / "lstchain_config.json"
        if not json_file.exists():
            json_file.write_text('{"image_extractor": "LocalPeakWindowSum"}\n')
        path = directory / name
        path.write_text(text)
        return path

    return write
