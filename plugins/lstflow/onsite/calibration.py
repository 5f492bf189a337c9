"""Which calibration a night uses, and the calibration file paths lstosa passes to lstchain.

The sequence uses the last DRS4 and the last PEDCALIB run of the night; a night without one looks
back night by night, up to ``calibration.lookback_nights`` (lstosa's look-back, without its
off-by-one cap and silent ``sys.exit(0)``: no run found is an explicit error).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lstflow.onsite.errors import PlanningError
from lstflow.onsite.exclusions import NightExclusions
from lstflow.onsite.files import NightFiles
from lstflow.onsite.paths import night_tag, run_summary_path
from lstflow.onsite.runsummary import read_run_summary
from lstflow.onsite.settings import AnalysisVersion, OnsiteSettings

_TIME_CALIBRATION = re.compile(r"^time_calibration\.Run(\d+)\.0000\.h5$")
_SYSTEMATICS = re.compile(r"^ffactor_systematics_(\d{8})\.h5$")


@dataclass(frozen=True)
class CalibrationRun:
    """A calibration run and the night it was taken (its files are in that night's dirs)."""

    run_id: int
    night: dt.date


@dataclass(frozen=True)
class CalibrationFiles:
    """The four calibration inputs of R0→DL1 (lstosa's ``--pedestal-file`` etc.)."""

    drs4_pedestal: Path
    charge: Path
    time: Path
    systematics: Path


def lookback_summaries(settings: OnsiteSettings, night: dt.date) -> tuple[Path, ...]:
    """The RunSummary files the look-back may read, newest first (all in one directory)."""
    return tuple(
        run_summary_path(settings, night - dt.timedelta(days=back))
        for back in range(settings.calibration_lookback_nights + 1)
    )


def last_calibration_run(
    settings: OnsiteSettings,
    night: dt.date,
    run_type: str,
    exclusions: Mapping[dt.date, NightExclusions],
    files: NightFiles,
) -> CalibrationRun:
    """The highest non-excluded ``run_type`` run of ``night`` or of the closest night before."""
    searched = []
    for back, summary in enumerate(lookback_summaries(settings, night)):
        candidate_night = night - dt.timedelta(days=back)
        searched.append(summary.name)
        if not files.exists(summary):
            continue
        excluded = exclusions.get(candidate_night, NightExclusions())
        runs = [
            row.run_id
            for row in read_run_summary(files, summary)
            if row.run_type == run_type and not excluded.run_excluded(row.run_id)
        ]
        if runs:
            return CalibrationRun(run_id=max(runs), night=candidate_night)
    raise PlanningError(
        f"no {run_type} run for night {night} in {searched} "
        f"(under {run_summary_path(settings, night).parent}). Fix: add the RunSummary of the "
        f"night that has one, raise calibration.lookback_nights in {settings.source}, "
        f"or remove its exclusion from {settings.exclusions_file}"
    )


def drs4_pedestal_file(
    settings: OnsiteSettings, version: AnalysisVersion, run: CalibrationRun
) -> Path:
    """Written by ``onsite_create_drs4_pedestal_file`` under the run's own night."""
    return (
        settings.path(settings.layout.calibration)
        / "drs4_baseline"
        / night_tag(run.night)
        / version.calibration_version
        / f"drs4_pedestal.Run{run.run_id:05d}.0000.h5"
    )


def charge_calibration_file(
    settings: OnsiteSettings, version: AnalysisVersion, run: CalibrationRun
) -> Path:
    """Written by ``onsite_create_calibration_file --filters=FF`` under the run's own night."""
    return (
        settings.path(settings.layout.calibration)
        / "calibration"
        / night_tag(run.night)
        / version.calibration_version
        / f"calibration_filters_{settings.calibration_filters}.Run{run.run_id:05d}.0000.h5"
    )


def time_calibration_root(settings: OnsiteSettings) -> Path:
    return settings.path(settings.layout.calibration) / "drs4_time_sampling_from_FF"


def systematics_root(settings: OnsiteSettings) -> Path:
    return settings.path(settings.layout.calibration) / "ffactor_systematics"


def pro_dirs(files: NightFiles, root: Path) -> tuple[Path, ...]:
    """``<root>/*/pro``: the production link of every dated directory below ``root``."""
    return tuple(directory / "pro" for directory in files.directories(root))


def find_time_calibration_file(
    settings: OnsiteSettings, pedcal_run_id: int, files: NightFiles
) -> Path:
    """The last ``pro`` time calibration with run <= the PEDCALIB run (lstchain's lookup),
    as its ``pro`` path (the caller resolves the link)."""
    root = time_calibration_root(settings)
    found = []
    for directory in pro_dirs(files, root):
        for path in files.files(directory):
            match = _TIME_CALIBRATION.match(path.name)
            if match and int(match.group(1)) <= pedcal_run_id:
                found.append((int(match.group(1)), path))
    if not found:
        raise PlanningError(
            f"no time calibration file with run <= {pedcal_run_id} in "
            f"{root}/*/pro/time_calibration.Run*.0000.h5. Fix: produce one with "
            "onsite_create_drs4_time_file (lstosa never does) and link its night's 'pro'"
        )
    return max(found)[1]


def find_systematics_file(settings: OnsiteSettings, night: dt.date, files: NightFiles) -> Path:
    """The latest ``pro`` F-factor systematics dated <= night, else the earliest (as lstchain),
    as its ``pro`` path (the caller resolves the link)."""
    root = systematics_root(settings)
    dated = sorted(
        (match.group(1), path)
        for directory in pro_dirs(files, root)
        for path in files.files(directory)
        if (match := _SYSTEMATICS.match(path.name)) and path.parts[-3] == match.group(1)
    )
    if not dated:
        raise PlanningError(
            f"no F-factor systematics file in {root}/<YYYYMMDD>/pro/. Fix: produce one with "
            "onsite_create_ffactor_systematics_file"
        )
    tag = night_tag(night)
    on_or_before = [item for item in dated if item[0] <= tag]
    return (on_or_before[-1] if on_or_before else dated[0])[1]
