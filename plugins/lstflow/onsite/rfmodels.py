"""The RF model of a run, chosen by NSB level and pointing declination (lstosa's rules).

Models live in ``<rf_models_dir>/<mc_prod>nsb_tuning_X.XX/dec_NNNN`` (``dec_min_NNNN`` for
negative declinations, NNNN = declination in 1/100 degree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lstflow.onsite.errors import PlanningError
from lstflow.onsite.files import NightFiles

#: NSB levels of the MC tunings and the picture threshold each one was cleaned with.
NSB_LEVELS: tuple[float, ...] = (0.0, 0.07, 0.14, 0.22, 0.38, 0.50, 0.81, 1.25, 1.76, 2.34)
PICTURE_THRESHOLDS: tuple[int, ...] = (8, 8, 8, 8, 10, 10, 12, 14, 16, 18)
#: Geodetic latitude of LST-1 (degrees): sources north of it culminate north of the zenith.
LST1_LATITUDE_DEG = 28.761758

_DEC_DIR = re.compile(r"^dec_(min_)?(\d+)$")


@dataclass(frozen=True)
class RFModelChoice:
    nsb_level: float
    declination: float
    path: Path

    @property
    def nsb_dir(self) -> str:
        """The DL2 sub-directory (lstosa's ``dl2_prod_id`` suffix)."""
        return nsb_tuning_dir_name(self.nsb_level)


def nsb_tuning_dir_name(level: float) -> str:
    return f"nsb_tuning_{level:.2f}"


def parse_declination_dir(name: str) -> float | None:
    """``dec_2276`` → 22.76, ``dec_min_2924`` → -29.24; ``None`` if not a declination line."""
    match = _DEC_DIR.match(name)
    if not match:
        return None
    value = int(match.group(2)) / 100
    return -value if match.group(1) else value


def choose_nsb_level(nsb: float, picture_threshold: int) -> float:
    """The closest tuned NSB level among those cleaned with the run's picture threshold."""
    allowed = [
        lvl
        for lvl, pic in zip(NSB_LEVELS, PICTURE_THRESHOLDS, strict=True)
        if pic == picture_threshold
    ]
    if not allowed:
        raise PlanningError(
            f"no RF NSB tuning was cleaned with picture threshold {picture_threshold} "
            f"(tunings exist for {sorted(set(PICTURE_THRESHOLDS))}); the run cannot get DL2"
        )
    return min(allowed, key=lambda lvl: (abs(lvl - nsb), lvl))


def choose_rf_model(
    files: NightFiles,
    rf_models_dir: Path,
    mc_prod: str,
    nsb: float,
    picture_threshold: int,
    declination: float | None,
    run_id: int,
) -> RFModelChoice:
    """NSB level first, then the closest declination line culminating on the same side of the
    zenith as the source (the culmination-angle check); any side if none does."""
    if declination is None:
        raise PlanningError(
            f"run {run_id}: unknown pointing declination. Fix: add the run to the night's "
            "RunCatalog (source_dec) so an RF model can be chosen"
        )
    level = choose_nsb_level(nsb, picture_threshold)
    nsb_dir = rf_models_dir / f"{mc_prod}{nsb_tuning_dir_name(level)}"
    lines = sorted(
        (dec, path)
        for path in files.directories(nsb_dir)
        if (dec := parse_declination_dir(path.name)) is not None
    )
    if not lines:
        raise PlanningError(
            f"run {run_id}: no dec_NNNN model directory in {nsb_dir}. Fix: install the RF models "
            f"of NSB tuning {level:.2f} or pick another rf_models set of the onsite config"
        )
    north = declination >= LST1_LATITUDE_DEG
    same_side = [line for line in lines if (line[0] >= LST1_LATITUDE_DEG) == north]
    dec, path = min(same_side or lines, key=lambda line: abs(line[0] - declination))
    return RFModelChoice(nsb_level=level, declination=dec, path=path)
