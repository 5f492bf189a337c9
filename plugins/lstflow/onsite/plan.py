"""``plan_night``: the night's calibration sequence and data runs (lstosa's sequence list).

Subruns come from the R0 files that actually exist, not from the RunSummary's ``n_subruns``
(which can disagree); exclusions come from the versioned exclusion file. Every read of the
onsite tree goes through ``NightFiles`` in four batched round trips (see ``plan_night``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lstflow.onsite.calibration import (
    CalibrationFiles,
    CalibrationRun,
    charge_calibration_file,
    drs4_pedestal_file,
    find_systematics_file,
    find_time_calibration_file,
    last_calibration_run,
    lookback_summaries,
    pro_dirs,
    systematics_root,
    time_calibration_root,
)
from lstflow.onsite.errors import OnsiteConfigError, PlanningError
from lstflow.onsite.exclusions import NightExclusions, load_exclusions
from lstflow.onsite.files import NightFiles
from lstflow.onsite.paths import N_STREAMS, NightPaths, night_paths
from lstflow.onsite.runsummary import SourceInfo, read_run_catalog, read_run_summary
from lstflow.onsite.settings import AnalysisVersion, OnsiteSettings

_R0_SUBRUN = re.compile(r"^LST-1\.1\.Run(\d{5})\.(\d{4})\.fits\.fz$")
_R0_STREAM = re.compile(r"^LST-1\.(\d)\.Run(\d{5})\.(\d{4})\.fits\.fz$")


@dataclass(frozen=True)
class DataRun:
    """A DATA run to process: ``subruns`` are the existing, non-excluded R0 subruns."""

    run_id: int
    subruns: tuple[int, ...]
    summary_subruns: int
    source: SourceInfo
    pedestal_ids_subruns: frozenset[int] = frozenset()

    @property
    def n_subruns(self) -> int:
        return len(self.subruns)


@dataclass(frozen=True)
class RawSubrun:
    """A raw R0 subrun for gain selection: ``streams`` are the stream numbers found on disk."""

    run_id: int
    run_type: str
    subrun: int
    streams: tuple[int, ...]

    @property
    def gain_selected(self) -> bool:
        """lstosa gain-selects DATA subruns with all 4 streams and copies everything else."""
        return self.run_type == "DATA" and self.streams == tuple(range(1, N_STREAMS + 1))


@dataclass(frozen=True)
class SkippedRun:
    """A run of the RunSummary that is not processed, and why."""

    run_id: int
    run_type: str
    reason: str


@dataclass(frozen=True)
class NightPlan:
    night: dt.date
    telescope: str
    version: AnalysisVersion
    paths: NightPaths
    drs4: CalibrationRun
    pedcal: CalibrationRun
    calibration_files: CalibrationFiles
    data_runs: tuple[DataRun, ...]
    skipped: tuple[SkippedRun, ...]
    raw_subruns: tuple[RawSubrun, ...] = ()

    @property
    def input_state(self) -> str:
        return self.version.input_state

    @property
    def needs_gain_selection(self) -> bool:
        """Only raw 4-stream R0 is gain-selected (lstosa: ``legacy_raw`` only)."""
        return self.input_state == "legacy_raw"

    @property
    def needs_calibration(self) -> bool:
        """lstosa's ``processing_plan.py``: Cat-A calibration unless the input already is."""
        return self.input_state != "catA_calibrated"

    def data_run(self, run_id: int) -> DataRun:
        for run in self.data_runs:
            if run.run_id == run_id:
                return run
        raise PlanningError(f"run {run_id} is not a planned DATA run of night {self.night}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe summary (for XCom, logs and the status view)."""

        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple | frozenset):
                items = [plain(v) for v in value]
                return sorted(items) if isinstance(value, frozenset) else items
            if isinstance(value, Path | dt.date):
                return str(value)
            return value

        result: dict[str, Any] = plain(asdict(self))
        return result


def existing_subruns(files: NightFiles, r0_dir: Path, run_id: int) -> tuple[int, ...]:
    """Subrun numbers of the run's stream-1 R0 files in the night's R0 directory."""
    found = []
    for path in files.files(r0_dir):
        match = _R0_SUBRUN.match(path.name)
        if match and int(match.group(1)) == run_id:
            found.append(int(match.group(2)))
    return tuple(sorted(found))


def raw_r0_streams(files: NightFiles, raw_dir: Path) -> dict[tuple[int, int], tuple[int, ...]]:
    """``(run, subrun) → stream numbers`` of the night's raw R0 files, from one listing."""
    found: dict[tuple[int, int], set[int]] = {}
    for path in files.files(raw_dir):
        if match := _R0_STREAM.match(path.name):
            stream, run_id, subrun = (int(g) for g in match.groups())
            found.setdefault((run_id, subrun), set()).add(stream)
    return {key: tuple(sorted(streams)) for key, streams in sorted(found.items())}


def _pedestal_ids_subruns(
    files: NightFiles, paths: NightPaths, run_id: int, subruns: tuple[int, ...]
) -> frozenset[int]:
    return frozenset(
        s
        for s in subruns
        if files.exists(paths.pedestal_ids_dir / f"pedestal_ids_Run{run_id:05d}.{s:04d}.h5")
    )


def refuse_escapes(
    settings: OnsiteSettings, contained: Mapping[str, Path], resolved: Mapping[Path, Path | None]
) -> None:
    """No lstchain config or RF model set may lead out of the onsite base through a symlink
    (checked where the files are: ``resolved`` comes from the cluster)."""
    base = resolved[settings.base] or settings.base
    for key, path in contained.items():
        real = resolved[path]
        if real is not None and not real.is_relative_to(base):
            raise OnsiteConfigError(
                settings.source,
                key,
                f"{path} resolves to {real}, outside the onsite base {base}",
                "keep configs and models inside the onsite base (no symlink out of it)",
            )


def plan_night(
    settings: OnsiteSettings,
    night: dt.date,
    version: AnalysisVersion,
    files: NightFiles,
    exclusions: Mapping[dt.date, NightExclusions] | None = None,
) -> NightPlan:
    """Plan one observation night; ``exclusions`` default to the config's exclusion file.

    The onsite tree is read in four round trips of ``files``, whatever the night holds: the
    input directories, the RunSummaries of the look-back and the RunCatalog, the calibration
    directories, and the resolution of the ``pro`` links.
    """
    if exclusions is None:
        exclusions = load_exclusions(settings.exclusions_file)
    paths = night_paths(settings, night, version)
    # Raw input (legacy_raw) is gain-selected into r0_dir during the run: subruns come from the
    # raw files, so every try of the night plans the same subruns before and after gain selection.
    raw = version.input_state == "legacy_raw"
    subrun_dir = paths.raw_r0_dir if raw else paths.r0_dir
    time_root, sys_root = time_calibration_root(settings), systematics_root(settings)
    files.prefetch(
        (
            paths.run_summary.parent,
            paths.run_catalog.parent,
            subrun_dir,
            paths.pedestal_ids_dir,
            time_root,
            sys_root,
        )
    )
    summaries = lookback_summaries(settings, night)
    files.prefetch_texts(p for p in (*summaries, paths.run_catalog) if files.exists(p))
    streams = raw_r0_streams(files, paths.raw_r0_dir) if raw else {}
    if not files.exists(paths.run_summary):
        raise PlanningError(
            f"{paths.run_summary} does not exist. Fix: create it with "
            f"'lstchain_create_run_summary -d {night:%Y%m%d} --r0-path {paths.r0_root}'"
        )
    night_exclusions = exclusions.get(night, NightExclusions())
    catalog = read_run_catalog(files, paths.run_catalog)
    data_runs, skipped, raw_subruns = [], [], []
    summary = read_run_summary(files, paths.run_summary)
    for row in summary:
        raw_subruns += [
            RawSubrun(row.run_id, row.run_type, subrun, found)
            for (run_id, subrun), found in streams.items()
            if run_id == row.run_id
        ]
    for row in summary:
        if row.run_type in ("DRS4", "PEDCALIB"):
            continue
        if row.run_type != "DATA":
            skipped.append(SkippedRun(row.run_id, row.run_type, f"run_type {row.run_type}"))
            continue
        if night_exclusions.run_excluded(row.run_id):
            reasons = [e.reason for e in night_exclusions.entries if e.run_id == row.run_id]
            skipped.append(SkippedRun(row.run_id, row.run_type, f"excluded: {'; '.join(reasons)}"))
            continue
        on_disk = existing_subruns(files, subrun_dir, row.run_id)
        dropped = night_exclusions.excluded_subruns(row.run_id)
        subruns = tuple(s for s in on_disk if s not in dropped)
        if not subruns:
            why = "all subruns excluded" if on_disk else f"no R0 files in {subrun_dir}"
            skipped.append(SkippedRun(row.run_id, row.run_type, why))
            continue
        data_runs.append(
            DataRun(
                run_id=row.run_id,
                subruns=subruns,
                summary_subruns=row.n_subruns,
                source=catalog.get(row.run_id, SourceInfo(name="", ra=None, dec=None)),
                pedestal_ids_subruns=_pedestal_ids_subruns(files, paths, row.run_id, subruns),
            )
        )
    drs4 = last_calibration_run(settings, night, "DRS4", exclusions, files)
    pedcal = last_calibration_run(settings, night, "PEDCALIB", exclusions, files)
    drs4_file = drs4_pedestal_file(settings, version, drs4)
    charge = charge_calibration_file(settings, version, pedcal)
    files.prefetch(
        (drs4_file.parent, charge.parent, *pro_dirs(files, time_root), *pro_dirs(files, sys_root))
    )
    time_file = find_time_calibration_file(settings, pedcal.run_id, files)
    systematics = find_systematics_file(settings, night, files)
    contained = version.base_paths()
    resolved = files.real_paths([time_file, systematics, settings.base, *contained.values()])
    refuse_escapes(settings, contained, resolved)
    if version.input_state == "catA_calibrated" and not files.exists(charge):
        raise PlanningError(
            f"input_state catA_calibrated runs no Cat-A calibration, but Cat-B needs {charge}, "
            "which does not exist. Fix: produce it (run the night with input_state gain_selected) "
            "or pick another calibration_version"
        )
    return NightPlan(
        night=night,
        telescope=settings.telescope,
        version=version,
        paths=paths,
        drs4=drs4,
        pedcal=pedcal,
        calibration_files=CalibrationFiles(
            drs4_pedestal=drs4_file,
            charge=charge,
            time=resolved[time_file] or time_file,
            systematics=resolved[systematics] or systematics,
        ),
        data_runs=tuple(data_runs),
        skipped=tuple(skipped),
        raw_subruns=tuple(raw_subruns),
    )
