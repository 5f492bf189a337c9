"""The one place tests and the demo find the real sim_telarray test files.

Resolution order:
1. ``$LSTFLOW_TEST_DATA`` (a directory laid out like ``../shared/data``: ``simtel/``,
   ``lstmcpipe_production_samples/``); it must exist when set.
2. ``../shared/data`` relative to the checkout root, when present.
3. Otherwise the simtel files are downloaded from their public origins into
   ``$XDG_CACHE_HOME/lstflow/testdata`` (default ``~/.cache/lstflow/testdata``) and checked
   against the sha256 sums below before use.

Standard library only: imports neither Airflow nor lstchain.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lstflow_dev.checkout import CHECKOUT_ROOT

ENV_VAR = "LSTFLOW_TEST_DATA"
FOCAL_LENGTH_OVERRIDE = "lstchain_override_focal_length_equivalent.json"


@dataclass(frozen=True)
class SimtelSource:
    """Where a test file comes from (a repository's ``tests/resources``) and its sha256."""

    repository: str
    commit: str
    sha256: str

    def url(self, name: str) -> str:
        return f"https://github.com/{self.repository}/raw/{self.commit}/tests/resources/{name}"


PYEVENTIO = "cta-observatory/pyeventio"
SIMTEL_FILES: dict[str, SimtelSource] = {
    "history_meta_75.simtel.zst": SimtelSource(
        PYEVENTIO,
        "cf3d30af9618e6e5f5d17a9e87ecbca465734a3d",
        "2c235d58a1a8beede4d6256ed103d084020501578ef67dc2beab22b3b8e7e8f0",
    ),
    "run202_proton_za20deg_azm0deg_North-Prod5_layout_test-prod.simtel.zst": SimtelSource(
        "gammasim/simtools",
        "a32076edd18ba16c7dd83259beabe7468a1a2fd1",
        "ade518249d283a83540f939479aecb7283950c0d0597f2737a746febcadab7fa",
    ),
    "lst_muons_with_true_photons.simtel.zst": SimtelSource(
        PYEVENTIO,
        "0045605fdd6c49258cfcab5514bbbcca6e4a726f",
        "6b88157969f36623724a16ec805a8a763cedc9b70419e596efc5edcd509b5411",
    ),
    "lst_with_photons.simtel.zst": SimtelSource(
        PYEVENTIO,
        "6514f7bff3cfe2d5e3546288a9fdb32ea0d59685",
        "f3aa40ebfa553cb2a235edb8250fe3997e1623b11fe52786dec40a41d9b979d1",
    ),
    "gamma_prod6_tel_event_header_v4.simtel.zst": SimtelSource(
        PYEVENTIO,
        "311a894d9d94c3618c6375311ccc733d4b8bc362",
        "4fb83ddce3923f61e8a422a69855b02056b08aecc150d5a6c39f26702c02f284",
    ),
    "extracted_pedestals.simtel.zst": SimtelSource(
        PYEVENTIO,
        "76b45b27993e102df65eb72d9595176898f579d4",
        "32c68d73973887d2baf5b0cac66bb62c8cd51b20f306b7288917c64e4cb68dab",
    ),
}

# lstchain replaces whole top-level blocks, so the override carries all of ``source_config``
# with the one change: files without an effective focal length need EQUIVALENT.
FOCAL_LENGTH_OVERRIDE_CONFIG = {
    "source_config": {
        "EventSource": {"allowed_tels": [1], "max_events": None},
        "LSTEventSource": {
            "default_trigger_type": "ucts",
            "allowed_tels": [1],
            "min_flatfield_adc": 3000,
            "min_flatfield_pixel_fraction": 0.8,
            "calibrate_flatfields_and_pedestals": False,
            "EventTimeCalculator": {
                "dragon_reference_counter": None,
                "dragon_reference_time": None,
            },
            "PointingSource": {"drive_report_path": None},
            "LSTR0Corrections": {
                "calib_scale_high_gain": 1.088,
                "calib_scale_low_gain": 1.004,
                "drs4_pedestal_path": None,
                "calibration_path": None,
                "drs4_time_calibration_path": None,
            },
        },
        "SimTelEventSource": {"focal_length_choice": "EQUIVALENT"},
    }
}


class DataFileError(RuntimeError):
    """Test data is missing or corrupt; the message says which file and how to fix it."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise DataFileError(
            f"{path} has sha256 {actual}, expected {expected}: the file is corrupt or not the "
            f"published one; delete it so it is downloaded again"
        )


def download(url: str, destination: Path, sha256: str) -> Path:
    """Fetch ``url`` to ``destination`` atomically, only keeping it if its sha256 matches."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".tmp-{secrets.token_hex(4)}-{destination.name}")
    try:
        try:
            urllib.request.urlretrieve(url, partial)
        except OSError as exc:
            raise DataFileError(
                f"cannot download {url} ({exc}); set {ENV_VAR} to a directory holding "
                f"simtel/{destination.name}"
            ) from exc
        verify_sha256(partial, sha256)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination


@dataclass(frozen=True)
class DataLocator:
    """Resolves test data for a given environment and checkout (injectable for tests)."""

    env: Mapping[str, str]
    checkout_root: Path

    def local_root(self) -> Path | None:
        """The local data directory (env var, else ``../shared/data``), or None."""
        configured = self.env.get(ENV_VAR)
        if configured:
            root = Path(configured)
            if not root.is_dir():
                raise DataFileError(f"{ENV_VAR}={configured} is not a directory; fix or unset it")
            return root
        shared = self.checkout_root.parent / "shared" / "data"
        return shared if shared.is_dir() else None

    def cache_dir(self) -> Path:
        base = self.env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "lstflow" / "testdata"

    def simtel_dir(self) -> Path:
        root = self.local_root()
        return root / "simtel" if root is not None else self.cache_dir() / "simtel"

    def simtel_file(self, name: str) -> Path:
        root = self.local_root()
        if root is not None:
            path = root / "simtel" / name
            if not path.is_file():
                raise DataFileError(f"{path} does not exist; known files: {sorted(SIMTEL_FILES)}")
            return path
        source = SIMTEL_FILES.get(name)
        if source is None:
            raise DataFileError(
                f"{name} is not a known test file and no local test data was found "
                f"(set {ENV_VAR}); known files: {sorted(SIMTEL_FILES)}"
            )
        cached = self.cache_dir() / "simtel" / name
        if cached.is_file():
            verify_sha256(cached, source.sha256)
            return cached
        return download(source.url(name), cached, source.sha256)

    def production_samples_dir(self) -> Path:
        root = self.local_root()
        samples = None if root is None else root / "lstmcpipe_production_samples"
        if samples is None or not samples.is_dir():
            raise DataFileError(
                "the lstmcpipe production samples are not downloadable; set "
                f"{ENV_VAR} to a directory holding lstmcpipe_production_samples/"
            )
        return samples

    def focal_length_override_config(self) -> Path:
        """The partial lstchain config that makes r0_to_dl1 use the EQUIVALENT focal length."""
        root = self.local_root()
        if root is not None and (root / "simtel" / FOCAL_LENGTH_OVERRIDE).is_file():
            return root / "simtel" / FOCAL_LENGTH_OVERRIDE
        path = self.cache_dir() / FOCAL_LENGTH_OVERRIDE
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".tmp-{secrets.token_hex(4)}-{path.name}")
            partial.write_text(json.dumps(FOCAL_LENGTH_OVERRIDE_CONFIG, indent=1) + "\n")
            os.replace(partial, path)
        return path


def default_locator() -> DataLocator:
    return DataLocator(os.environ, CHECKOUT_ROOT)


def simtel_file(name: str) -> Path:
    """Path of one real sim_telarray test file (downloaded and verified if needed)."""
    return default_locator().simtel_file(name)


def simtel_dir() -> Path:
    """Directory of the simtel files (files are only guaranteed after ``simtel_file``)."""
    return default_locator().simtel_dir()


def production_samples_dir() -> Path:
    """Directory of the three real lstmcpipe production configs."""
    return default_locator().production_samples_dir()


def focal_length_override_config() -> Path:
    """lstchain config override needed by simtel files without an effective focal length."""
    return default_locator().focal_length_override_config()
