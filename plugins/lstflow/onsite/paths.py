"""Where a night's inputs and outputs live, and lstchain's file names.

Every output directory contains the prod_id, so reprocessing with a new version writes next
to the old outputs and never over them (lstosa's parallel ``<prod>`` dirs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from lstflow.onsite.settings import AnalysisVersion, OnsiteSettings

# Where onsite_create_cat_B_calibration_file writes below its --base_dir (fixed by lstchain).
CAT_B_CALIBRATION = "monitoring/PixelCalibration/Cat-B/calibration"
N_STREAMS = 4


def night_tag(night: dt.date) -> str:
    """The YYYYMMDD form lstchain and lstosa use in directory and file names."""
    return night.strftime("%Y%m%d")


def run_summary_path(settings: OnsiteSettings, night: dt.date) -> Path:
    return settings.path(settings.layout.run_summary) / f"RunSummary_{night_tag(night)}.ecsv"


def r0_file_name(run_id: int, subrun: int, stream: int = 1) -> str:
    """A stream's R0 file of a subrun (stream 1 is the one lstchain's tools are given)."""
    return f"LST-1.{stream}.Run{run_id:05d}.{subrun:04d}.fits.fz"


def dl1_file_name(run_id: int, subrun: int | None = None) -> str:
    """``dl1_LST-1.RunNNNNN.SSSS.h5`` for a subrun, ``dl1_LST-1.RunNNNNN.h5`` for a merged run."""
    return f"dl1_LST-1.Run{run_id:05d}{'' if subrun is None else f'.{subrun:04d}'}.h5"


def datacheck_file_name(run_id: int, subrun: int | None = None) -> str:
    return "datacheck_" + dl1_file_name(run_id, subrun)


def muons_file_name(run_id: int, subrun: int | None = None) -> str:
    return f"muons_LST-1.Run{run_id:05d}{'' if subrun is None else f'.{subrun:04d}'}.fits"


def interleaved_file_name(run_id: int, subrun: int) -> str:
    return f"interleaved_LST-1.Run{run_id:05d}.{subrun:04d}.h5"


def dl2_file_name(run_id: int) -> str:
    return f"dl2_LST-1.Run{run_id:05d}.h5"


@dataclass(frozen=True)
class NightPaths:
    """The directories of one night under one analysis version."""

    night: dt.date
    base: Path
    r0_root: Path
    r0_dir: Path
    raw_r0_dir: Path
    run_summary: Path
    run_catalog: Path
    drive_log: Path
    pedestal_ids_dir: Path
    tailcuts_dir: Path
    calibration_root: Path
    dl1_dir: Path
    dl2_dir: Path
    datacheck_dir: Path
    longterm_file: Path
    running_dir: Path
    night_closed_marker: Path

    def provenance_dir(self, simulate: bool = False) -> Path:
        """Per-task provenance fragments (one JSON per task, never a shared append log) and the
        PROV-JSON documents merged from them; a simulated night's are kept apart."""
        return self.running_dir / ("provenance.simulate" if simulate else "provenance")

    @property
    def gain_selection_log_dir(self) -> Path:
        """lstosa's ``R0G/log/<night>``: the gain selection's per-subrun logs."""
        return self.r0_root / "log" / self.r0_dir.name

    @property
    def interleaved_dir(self) -> Path:
        """Where lstchain_data_r0_to_dl1 writes the interleaved pedestal/flat-field events."""
        return self.dl1_dir / "interleaved"

    def catB_calibration_file(self, version: str, filters: int, run_id: int) -> Path:
        """``onsite_create_cat_B_calibration_file``'s output: it names the directory after the
        environment's lstchain version (``v0.12.3``), which ``version`` must therefore be."""
        name = f"cat_B_calibration_filters_{filters}.Run{run_id:05d}.h5"
        return self.base / CAT_B_CALIBRATION / self.r0_dir.name / version / name

    @property
    def log_dir(self) -> Path:
        return self.running_dir / "log"

    @property
    def fail_once_dir(self) -> Path:
        """Simulate mode: a file named after a work-item key here makes that item fail once."""
        return self.running_dir / "simulate_fail_once"

    @property
    def simulated_night_closed_marker(self) -> Path:
        """Simulate mode's close marker, never mistaken for the real ``NightFinished.txt``."""
        return self.night_closed_marker.with_name("NightFinished.simulate.txt")

    def dl1b_dir(self, tailcut: str) -> Path:
        return self.dl1_dir / tailcut

    def subrun_datacheck_dir(self, tailcut: str) -> Path:
        return self.dl1_dir / tailcut / "datacheck"

    @property
    def merged_muons_dir(self) -> Path:
        return self.dl1_dir / "muons"

    def dl2_run_dir(self, tailcut: str, nsb_dir: str) -> Path:
        return self.dl2_dir / tailcut / nsb_dir


def night_paths(settings: OnsiteSettings, night: dt.date, version: AnalysisVersion) -> NightPaths:
    tag, prod = night_tag(night), version.prod_id
    layout = settings.layout
    datacheck_root = settings.path(layout.datacheck)
    return NightPaths(
        night=night,
        base=settings.base,
        r0_root=settings.path(layout.r0),
        r0_dir=settings.path(layout.r0) / tag,
        raw_r0_dir=settings.path(layout.raw_r0) / tag,
        run_summary=run_summary_path(settings, night),
        run_catalog=settings.path(layout.run_catalog) / f"RunCatalog_{tag}.ecsv",
        drive_log=settings.path(layout.drive_log) / f"DrivePosition_log_{tag}.txt",
        pedestal_ids_dir=settings.path(layout.pedestal_ids) / tag,
        tailcuts_dir=settings.path(layout.tailcuts_finder) / tag / prod,
        calibration_root=settings.path(layout.calibration),
        dl1_dir=settings.path(layout.dl1) / tag / prod,
        dl2_dir=settings.path(layout.dl2) / tag / prod,
        datacheck_dir=datacheck_root / prod / tag,
        longterm_file=datacheck_root / "night_wise" / prod / tag / f"DL1_datacheck_{tag}.h5",
        running_dir=settings.path(layout.running) / tag / prod,
        night_closed_marker=settings.path(layout.closer) / tag / prod / "NightFinished.txt",
    )
