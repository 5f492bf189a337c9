"""Fixtures of the config tests: the real sample productions and configs in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import (
    GD_NODES,
    ONLY_PROTON,
    TEST_NODES,
    WriteConfig,
    sample_data_root,
    touch_simtel,
)


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


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """A synthetic LSTProd2 DL0 tree for dec_2276 and dec_3476, a prod5 tree, and the DL1 and
    merged files of a source production 'src'."""
    root = tmp_path / "data"
    dl0 = root / "mc" / "DL0" / "LSTProd2"
    for dec in ("dec_2276", "dec_3476"):
        for node in GD_NODES:
            for particle in ("GammaDiffuse", "Protons"):
                touch_simtel(
                    dl0 / "TrainingDataset" / particle / dec / "sim_telarray" / node / "output_v1.4"
                )
        touch_simtel(
            dl0 / "TrainingDataset" / "Protons" / dec / "sim_telarray" / ONLY_PROTON / "output_v1.4"
        )
    for node in TEST_NODES:
        touch_simtel(dl0 / "TestDataset" / "sim_telarray" / node / "output_v1.4", "a.simtel.gz")
    (dl0 / "TestDataset" / "sim_telarray" / "node_theta_60.0_az_0.0_" / "output_v1.4").mkdir(
        parents=True
    )
    prod5 = root / "mc" / "DL0" / "20200629_prod5_trans_80"
    for particle in (
        "gamma/zenith_20deg/south_pointing/off0.0deg",
        "gamma/zenith_20deg/south_pointing/off0.4deg",
        "gamma-diffuse/zenith_20deg/south_pointing",
        "electron/zenith_20deg/south_pointing",
        "proton/zenith_20deg/south_pointing",
    ):
        touch_simtel(prod5 / particle, "x.simtel.gz")
    prod5_source = root / "mc" / "DL1" / "20200629_prod5_trans_80"
    for sample, halves in (
        ("gamma/zenith_20deg/south_pointing/src/off0.0deg", ("test",)),
        ("gamma/zenith_20deg/south_pointing/src/off0.4deg", ("test",)),
        ("gamma-diffuse/zenith_20deg/south_pointing/src", ("train", "test")),
        ("electron/zenith_20deg/south_pointing/src", ("test",)),
        ("proton/zenith_20deg/south_pointing/src", ("train", "test")),
    ):
        for half in halves:
            (prod5_source / sample / half).mkdir(parents=True)
    source = root / "mc" / "DL1" / "AllSky" / "src"
    for node in GD_NODES:
        for particle in ("GammaDiffuse", "Protons"):
            (source / "TrainingDataset" / particle / "dec_2276" / node).mkdir(parents=True)
    for node in TEST_NODES:
        (source / "TestingDataset" / "Gamma" / node).mkdir(parents=True)
        (source / "TestingDataset" / "Gamma" / f"dl1_src_Gamma_test_{node}_merged.h5").touch()
    for particle in ("GammaDiffuse", "Protons"):
        (
            source
            / "TrainingDataset"
            / particle
            / "dec_2276"
            / f"dl1_src_train_dec_2276_{particle}_merged.h5"
        ).touch()
    return root
