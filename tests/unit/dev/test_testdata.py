"""Where tests find the real simtel files, and that a corrupt download is never used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lstflow_dev import testdata
from lstflow_dev.testdata import DataFileError, DataLocator

pytestmark = pytest.mark.unit

NAME = "history_meta_75.simtel.zst"


def _data_root(base: Path) -> Path:
    (base / "simtel").mkdir(parents=True)
    (base / "simtel" / NAME).write_bytes(b"simtel bytes")
    (base / "lstmcpipe_production_samples").mkdir()
    return base


def test_env_var_wins_over_shared_data(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    _data_root(tmp_path / "shared" / "data")
    chosen = _data_root(tmp_path / "elsewhere")
    locator = DataLocator({testdata.ENV_VAR: str(chosen)}, checkout)
    assert locator.simtel_file(NAME) == chosen / "simtel" / NAME
    assert locator.simtel_dir() == chosen / "simtel"
    assert locator.production_samples_dir() == chosen / "lstmcpipe_production_samples"


def test_shared_data_next_to_checkout_is_used_without_env_var(tmp_path: Path) -> None:
    shared = _data_root(tmp_path / "shared" / "data")
    locator = DataLocator({}, tmp_path / "checkout")
    assert locator.simtel_file(NAME) == shared / "simtel" / NAME


def test_env_var_pointing_nowhere_is_an_error(tmp_path: Path) -> None:
    locator = DataLocator({testdata.ENV_VAR: str(tmp_path / "missing")}, tmp_path)
    with pytest.raises(DataFileError, match=r"LSTFLOW_TEST_DATA=.*missing is not a directory"):
        locator.simtel_file(NAME)


def test_without_local_data_the_cache_under_xdg_is_used(tmp_path: Path) -> None:
    locator = DataLocator({"XDG_CACHE_HOME": str(tmp_path / "xdg")}, tmp_path / "checkout")
    assert locator.simtel_dir() == tmp_path / "xdg" / "lstflow" / "testdata" / "simtel"
    with pytest.raises(DataFileError, match="production samples are not downloadable"):
        locator.production_samples_dir()


def test_corrupt_cached_file_is_refused_with_a_fix(tmp_path: Path) -> None:
    locator = DataLocator({"XDG_CACHE_HOME": str(tmp_path)}, tmp_path / "checkout")
    cached = locator.cache_dir() / "simtel" / NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated download")
    expected = testdata.SIMTEL_FILES[NAME].sha256
    with pytest.raises(DataFileError) as error:
        locator.simtel_file(NAME)
    message = str(error.value)
    assert str(cached) in message
    assert f"expected {expected}" in message
    assert testdata.sha256_of(cached) in message
    assert "delete it so it is downloaded again" in message


def test_download_keeps_only_a_verified_file(tmp_path: Path) -> None:
    origin = tmp_path / "origin.bin"
    origin.write_bytes(b"published content")
    destination = tmp_path / "cache" / "file.simtel.zst"
    good = testdata.sha256_of(origin)
    with pytest.raises(DataFileError, match="expected 0000"):
        testdata.download(origin.as_uri(), destination, "0" * 64)
    assert not destination.exists()
    assert list(destination.parent.iterdir()) == []
    assert testdata.download(origin.as_uri(), destination, good) == destination
    assert destination.read_bytes() == b"published content"


def test_unknown_file_without_local_data_lists_known_files(tmp_path: Path) -> None:
    locator = DataLocator({"XDG_CACHE_HOME": str(tmp_path)}, tmp_path / "checkout")
    with pytest.raises(DataFileError, match=r"not a known test file.*history_meta_75"):
        locator.simtel_file("nope.simtel.zst")


def test_urls_follow_the_published_form() -> None:
    source = testdata.SIMTEL_FILES[NAME]
    assert source.url(NAME) == (
        "https://github.com/cta-observatory/pyeventio/raw/"
        f"cf3d30af9618e6e5f5d17a9e87ecbca465734a3d/tests/resources/{NAME}"
    )


def test_focal_length_override_is_written_when_no_local_copy(tmp_path: Path) -> None:
    locator = DataLocator({"XDG_CACHE_HOME": str(tmp_path)}, tmp_path / "checkout")
    path = locator.focal_length_override_config()
    config = json.loads(path.read_text())
    assert config["source_config"]["SimTelEventSource"] == {"focal_length_choice": "EQUIVALENT"}
    assert set(config) == {"source_config"}


def test_embedded_sha256_table_matches_the_shared_sums() -> None:
    sums = testdata.default_locator().simtel_dir() / "SHA256SUMS"
    recorded = dict(reversed(line.split()) for line in sums.read_text().splitlines())
    assert {name: s.sha256 for name, s in testdata.SIMTEL_FILES.items()} == recorded
