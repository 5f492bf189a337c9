"""A synthetic onsite tree for tests and demos (no real LST R0 data exist offline).

It writes what the planner reads: RunSummary and RunCatalog ECSVs with DRS4, PEDCALIB and DATA
runs, empty raw R0 files (4 streams per subrun, for gain selection) and gain-selected R0G files
(stream 1) for the subruns, a drive log, time-calibration and systematics files, RF model
directories, tail-cut finder outputs, the interleaved files and the Cat-B base the Cat-B
calibration reads, lstchain configs, and an onsite settings file with small Slurm resources.
``build_synthetic_tree`` makes three nights; the middle one has no calibration runs (look-back)
and one run whose RunSummary claims more subruns than exist; the first one has a DATA subrun
with a missing raw stream (copied, not gain-selected, as lstosa does).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from lstflow.onsite.paths import (
    CAT_B_CALIBRATION,
    N_STREAMS,
    interleaved_file_name,
    night_tag,
    r0_file_name,
)
from lstflow.onsite.rfmodels import NSB_LEVELS, nsb_tuning_dir_name
from lstflow.onsite.settings import DEFAULT_SETTINGS_PATH

MC_PROD = "20240918_v0.10.12_allsky_"
RF_NSB_LEVELS = NSB_LEVELS
RF_DECLINATION_DIRS = ("dec_min_2924", "dec_2276", "dec_3476", "dec_4822")
CALIBRATION_VERSION = "v0.12.3"
SMALL_RESOURCES = {"mem": "200M", "time": "00:10:00"}


@dataclass(frozen=True)
class SyntheticRun:
    run_id: int
    run_type: str
    summary_subruns: int
    r0_subruns: int
    source: str = ""
    dec: float | None = None
    picture: int = 8
    nsb: float = 0.1
    # (subrun, stream) pairs absent from the raw R0 directory
    missing_streams: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class SyntheticNight:
    night: dt.date
    runs: tuple[SyntheticRun, ...]

    def of_type(self, run_type: str) -> tuple[SyntheticRun, ...]:
        return tuple(r for r in self.runs if r.run_type == run_type)


def default_nights(first_night: dt.date = dt.date(2020, 1, 17)) -> tuple[SyntheticNight, ...]:
    """Night 1: two DRS4/PEDCALIB pairs and two DATA runs; night 2: DATA only (look-back), one run
    short of R0 files; night 3: its own calibration, one DATA and one ERROR run."""
    n1, n2, n3 = (first_night + dt.timedelta(days=k) for k in range(3))
    return (
        SyntheticNight(
            n1,
            (
                SyntheticRun(1803, "DRS4", 5, 1),
                SyntheticRun(1804, "PEDCALIB", 5, 1),
                SyntheticRun(1805, "DRS4", 5, 1),
                SyntheticRun(1806, "PEDCALIB", 5, 1),
                SyntheticRun(1807, "DATA", 3, 3, "Crab", 22.0145, 8, 0.1),
                SyntheticRun(1808, "DATA", 2, 2, "Mrk421", 38.2089, 10, 0.45, ((1, 4),)),
            ),
        ),
        SyntheticNight(
            n2,
            (
                SyntheticRun(1809, "DATA", 4, 3, "Crab", 22.0145, 8, 0.2),
                SyntheticRun(1810, "DATA", 2, 2, "1ES1959", 65.1485, 12, 0.9),
            ),
        ),
        SyntheticNight(
            n3,
            (
                SyntheticRun(1811, "DRS4", 5, 1),
                SyntheticRun(1812, "PEDCALIB", 5, 1),
                SyntheticRun(1813, "DATA", 2, 2, "SgrA", -29.0078, 8, 0.0),
                SyntheticRun(1814, "ERROR", 1, 1),
            ),
        ),
    )


def _ecsv(
    columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[object]], meta: dict[str, str]
) -> str:
    """ECSV as astropy writes it (delimiter ','), so astropy and our reader both accept it."""
    lines = ["# %ECSV 1.0", "# ---", "# delimiter: ','", "# datatype:"]
    lines += [f"# - {{name: {name}, datatype: {dtype}}}" for name, dtype in columns]
    lines.append("# meta: !!omap")
    lines += [f"# - {{{key}: '{value}'}}" for key, value in meta.items()]
    lines.append("# schema: astropy-2.0")
    lines.append(",".join(name for name, _ in columns))
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def _touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _link_pro(version_dir: Path) -> None:
    pro = version_dir.parent / "pro"
    if not pro.is_symlink():
        pro.symlink_to(version_dir.name)


def write_night(base: Path, night: SyntheticNight, prod_ids: Sequence[str]) -> None:
    tag = night_tag(night.night)
    start = int(dt.datetime.combine(night.night, dt.time(21), dt.UTC).timestamp()) * 10**9
    summary_rows = [
        (
            r.run_id,
            r.summary_subruns,
            r.run_type,
            start + i * 10**12,
            start + i * 10**12,
            start + i * 10**12,
            1,
            0,
            5000,
            "ucts",
        )
        for i, r in enumerate(night.runs)
    ]
    _touch(
        base / "monitoring/RunSummary" / f"RunSummary_{tag}.ecsv",
        _ecsv(
            [
                ("run_id", "int64"),
                ("n_subruns", "int64"),
                ("run_type", "string"),
                ("ucts_timestamp", "int64"),
                ("run_start", "int64"),
                ("dragon_reference_time", "int64"),
                ("dragon_reference_module_id", "int16"),
                ("dragon_reference_module_index", "int16"),
                ("dragon_reference_counter", "uint64"),
                ("dragon_reference_source", "string"),
            ],
            summary_rows,
            {"date": night.night.isoformat(), "lstchain_version": "0.12.3"},
        ),
    )
    data = night.of_type("DATA")
    _touch(
        base / "monitoring/RunCatalog" / f"RunCatalog_{tag}.ecsv",
        _ecsv(
            [
                ("run_id", "int32"),
                ("source_name", "string"),
                ("source_ra", "float64"),
                ("source_dec", "float64"),
            ],
            [(r.run_id, r.source, 83.6, r.dec) for r in data],
            {"date": night.night.isoformat()},
        ),
    )
    for run in night.runs:
        for subrun in range(run.r0_subruns):
            _touch(base / "R0G" / tag / r0_file_name(run.run_id, subrun))
            for stream in range(1, N_STREAMS + 1):
                if (subrun, stream) not in run.missing_streams:
                    _touch(base / "R0" / tag / r0_file_name(run.run_id, subrun, stream))
    _touch(
        base / "monitoring/DrivePositioning" / f"DrivePosition_log_{tag}.txt",
        "".join(f"{start // 10**9 + 60 * k} 45.0 180.0 0.0 0.0\n" for k in range(5)),
    )
    for prod_id in prod_ids:
        finder_dir = base / "auxiliary/TailCuts" / tag / prod_id
        for run in data:
            for subrun in range(run.r0_subruns):
                name = interleaved_file_name(run.run_id, subrun)
                _touch(base / "DL1" / tag / prod_id / "interleaved" / name)
            cleaning = {
                "picture_thresh": run.picture,
                "boundary_thresh": run.picture // 2,
                "keep_isolated_pixels": False,
                "min_number_picture_neighbors": 2,
                "use_only_main_island": False,
                "delta_time": 2,
                "pedestal_factor": 2.5,
                "sigma_max": 0.2,
            }
            _touch(
                finder_dir / f"dl1ab_Run{run.run_id:05d}.json",
                json.dumps(
                    {"tailcuts_clean_with_pedestal_threshold": cleaning, "tailcut": {}}, indent=2
                ),
            )
            _touch(
                finder_dir / f"log_find_tailcuts_Run{run.run_id:05d}.log",
                f"Additional NSB rate (over dark MC): {run.nsb:.4f} p.e./ns\n",
            )


def write_static(base: Path, first_night: dt.date) -> None:
    """Night-independent inputs: time calibration, systematics, RF models, lstchain configs."""
    cat_a = base / "monitoring/PixelCalibration/Cat-A"
    before = night_tag(first_night - dt.timedelta(days=30))
    time_dir = cat_a / "drs4_time_sampling_from_FF" / before / CALIBRATION_VERSION
    _touch(time_dir / "time_calibration.Run01625.0000.h5")
    _link_pro(time_dir)
    sys_dir = cat_a / "ffactor_systematics" / before / CALIBRATION_VERSION
    _touch(sys_dir / f"ffactor_systematics_{before}.h5")
    _link_pro(sys_dir)
    for level in RF_NSB_LEVELS:
        for dec_dir in RF_DECLINATION_DIRS:
            model_dir = base / "models/AllSky" / f"{MC_PROD}{nsb_tuning_dir_name(level)}" / dec_dir
            model_dir.mkdir(parents=True, exist_ok=True)
    _touch(base / "cfg/lstchain_standard_config.json", "{}\n")
    cat_b = base / CAT_B_CALIBRATION / before / CALIBRATION_VERSION
    _touch(cat_b / "cat_B_calibration_filters_52.Run01624.h5")
    _link_pro(cat_b)


def write_settings(
    directory: Path,
    exclusions: dict[str, list[dict[str, object]]] | None = None,
    lookback_nights: int = 4,
    environments: Mapping[str, str | list[list[str]]] | None = None,
) -> Path:
    """The default onsite config with small Slurm resources and its own exclusion file;
    ``environments`` adds named analysis environments (name → shell line or argv lists) to its
    choices."""
    directory.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(DEFAULT_SETTINGS_PATH.read_text())
    config["resources"] = {name: dict(SMALL_RESOURCES) for name in config["resources"]}
    config["calibration"]["lookback_nights"] = lookback_nights
    config["rf_models"] = {"synthetic": {"dir": "models/AllSky", "mc_prod": MC_PROD}}
    config["version"]["rf_models"] = "synthetic"
    config["environments"].update(environments or {})
    config["exclusions"] = "exclusions.yaml"
    (directory / "exclusions.yaml").write_text(yaml.safe_dump({"nights": exclusions or {}}))
    path = directory / "lst1_onsite.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def build_synthetic_tree(
    base: Path,
    nights: Sequence[SyntheticNight] | None = None,
    prod_ids: Sequence[str] = ("v0.12.3",),
) -> tuple[SyntheticNight, ...]:
    """Write the whole tree under ``base`` (the future ``$LSTFLOW_ONSITE_BASE``)."""
    chosen = tuple(nights or default_nights())
    write_static(base, chosen[0].night)
    for night in chosen:
        write_night(base, night, prod_ids)
    return chosen
