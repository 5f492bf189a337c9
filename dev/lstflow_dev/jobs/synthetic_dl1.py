"""Synthetic LST-1 DL1 files built on a real DL1 template, for training RFs and building IRFs.

The real sim_telarray test files hold a handful of showers: enough to run r0_to_dl1 for real,
far too few to train random forests or fill IRFs. This module copies a REAL DL1 file made by
``lstchain_mc_r0_to_dl1`` (instrument tables, metadata, column units and descriptions stay
exactly as lstchain wrote them), drops its images, and replaces the parameter, trigger,
run_config and thrown-event-histogram tables with numpy-generated showers of a toy physics
model. The real downstream tools (merge, trainpipe, dl1_to_dl2, create_irf_files) accept it.

Toy model: power-law energies, cores uniform in a disk, intensity proportional to energy times
a lateral light profile times log-normal scatter; images are kept above 40 p.e. with their
centre of gravity in the camera. Width and length grow with intensity and impact (protons
wider, 10 % of them gamma-like), the image centre sits ``impact / 10.6 km`` (times the focal
length) from the true source along the image axis, and skewness and time gradient carry the
head-tail sign. Deterministic: the same particle, run and size always give the same file.

    python -m lstflow_dev.jobs.synthetic_dl1 --template DL1.h5 --particle gamma_diffuse|gamma|proton
        --runs 1 2 --n-showers N -o OUTDIR [--overwrite]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tables

from lstflow.jobs.common import JobError, atomic_output, job_main

PARAMETERS = "/dl1/event/telescope/parameters/LST_LSTCam"
IMAGES = "/dl1/event/telescope/image"
TRIGGER = "/dl1/event/subarray/trigger"
RUN_CONFIG = "/simulation/run_config"
THROWN = "/simulation/thrown_event_distribution"

POINTING_ALT = np.deg2rad(70.0)  # zenith 20 deg, as the prod5 template
POINTING_AZ = np.deg2rad(180.0)
SHOWER_REUSE = 10
EVENT_TYPE_SUBARRAY = 32
MIN_INTENSITY = 40.0  # p.e.
CAMERA_RADIUS = 1.0  # m, keeps the c.o.g. inside the LST camera
SHOWER_MAX_DISTANCE = 10_600.0  # m: the image offset is impact / this, in radians
SEED = 20_240_122


@dataclass(frozen=True)
class Particle:
    """Simulation settings and toy-physics constants of one particle set."""

    mc_type: int
    energy_min: float  # TeV
    energy_max: float  # TeV
    max_scatter: float  # m
    viewcone_min: float  # deg
    viewcone_max: float  # deg
    light_yield: float  # p.e. per TeV close to the core
    light_spread: float  # sigma of the log-normal intensity scatter
    width_scale: tuple[float, float]  # range of the width factor relative to gammas
    axis_jitter: float  # rad, extra scatter of the image axis around the source direction


PARTICLES: dict[str, Particle] = {
    "gamma_diffuse": Particle(0, 0.005, 50.0, 700.0, 0.0, 2.5, 5000.0, 0.35, (1.0, 1.0), 0.0),
    # ring wobble: a 0.4 deg offset ring (lstchain calls viewcone width < 0.1 deg ring_wobble)
    "gamma": Particle(0, 0.005, 50.0, 700.0, 0.4, 0.4, 5000.0, 0.35, (1.0, 1.0), 0.0),
    "proton": Particle(101, 0.01, 100.0, 1000.0, 0.0, 4.0, 1500.0, 0.6, (1.2, 2.4), 0.35),
}
PARTICLE_INDEX = {name: i for i, name in enumerate(PARTICLES)}


@dataclass(frozen=True)
class Instrument:
    """What the template tells about LST-1: where it stands and its effective focal length."""

    tel_x: float
    tel_y: float
    tel_z: float
    focal_length: float


def read_instrument(template: tables.File) -> Instrument:
    layout = template.get_node("/configuration/instrument/subarray/layout").read()
    optics = template.get_node("/configuration/instrument/telescope/optics").read()
    lst1 = layout[layout["tel_id"] == 1]
    if len(lst1) != 1 or len(optics) < 1:
        raise JobError(f"{template.filename}: no LST-1 in the instrument tables of the template")
    return Instrument(
        float(lst1["pos_x"][0]),
        float(lst1["pos_y"][0]),
        float(lst1["pos_z"][0]),
        float(optics["effective_focal_length"][lst1["optics_index"][0]]),
    )


def _power_law(rng: np.random.Generator, n: int, e_min: float, e_max: float) -> np.ndarray:
    """Energies from dN/dE ~ E^-2 between ``e_min`` and ``e_max`` (inverse transform)."""
    u = rng.random(n)
    return 1.0 / (1.0 / e_min - u * (1.0 / e_min - 1.0 / e_max))


def _directions(
    rng: np.random.Generator, n: int, particle: Particle
) -> tuple[np.ndarray, np.ndarray]:
    """True (alt, az) drawn uniformly in solid angle within the viewcone around the pointing."""
    cos_min, cos_max = np.cos(np.deg2rad([particle.viewcone_min, particle.viewcone_max]))
    offset = np.arccos(cos_min - rng.random(n) * (cos_min - cos_max))
    angle = rng.uniform(0, 2 * np.pi, n)
    pointing = np.array(
        [
            np.cos(POINTING_ALT) * np.cos(POINTING_AZ),
            np.cos(POINTING_ALT) * np.sin(POINTING_AZ),
            np.sin(POINTING_ALT),
        ]
    )
    east = np.cross([0.0, 0.0, 1.0], pointing)
    east /= np.linalg.norm(east)
    up = np.cross(pointing, east)
    direction = (
        np.cos(offset)[:, None] * pointing
        + (np.sin(offset) * np.cos(angle))[:, None] * east
        + (np.sin(offset) * np.sin(angle))[:, None] * up
    )
    alt = np.arcsin(np.clip(direction[:, 2], -1, 1))
    az = np.mod(np.arctan2(direction[:, 1], direction[:, 0]), 2 * np.pi)
    return alt, az


def _source_in_camera(
    alt: np.ndarray, az: np.ndarray, focal_length: float
) -> tuple[np.ndarray, np.ndarray]:
    """The true source position in the camera, with lstchain's own transformation."""
    import astropy.units as u
    from lstchain.reco.utils import sky_to_camera

    n = len(alt)
    camera = sky_to_camera(
        u.Quantity(alt, u.rad),
        u.Quantity(az, u.rad),
        focal_length * u.m,
        u.Quantity(np.full(n, POINTING_ALT), u.rad),
        u.Quantity(np.full(n, POINTING_AZ), u.rad),
    )
    return camera.x.to_value(u.m), camera.y.to_value(u.m)


def simulate_run(
    particle_name: str, run: int, n_showers: int, instrument: Instrument
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Return (parameter columns of the kept events, thrown energies, thrown core radii)."""
    from lstchain.reco.disp import disp

    particle = PARTICLES[particle_name]
    rng = np.random.default_rng([SEED, PARTICLE_INDEX[particle_name], run])
    n_thrown = n_showers * SHOWER_REUSE

    energy = _power_law(rng, n_thrown, particle.energy_min, particle.energy_max)
    core_r = particle.max_scatter * np.sqrt(rng.random(n_thrown))
    core_angle = rng.uniform(0, 2 * np.pi, n_thrown)
    core_x, core_y = core_r * np.cos(core_angle), core_r * np.sin(core_angle)
    impact = np.hypot(core_x - instrument.tel_x, core_y - instrument.tel_y)
    lateral = np.exp(-np.clip(impact - 120.0, 0, None) / 70.0)
    intensity = (
        particle.light_yield
        * energy**1.05
        * lateral
        * rng.lognormal(0.0, particle.light_spread, n_thrown)
    )
    seen = intensity > MIN_INTENSITY
    thrown_energy, thrown_core = energy, core_r
    idx = np.flatnonzero(seen)
    energy, core_x, core_y, impact, intensity = (
        a[idx] for a in (energy, core_x, core_y, impact, intensity)
    )
    n = len(idx)
    mc_alt, mc_az = _directions(rng, n, particle)
    src_x, src_y = _source_in_camera(mc_alt, mc_az, instrument.focal_length)

    # image: c.o.g. displaced from the source along the direction of the impact vector
    axis = np.arctan2(core_y - instrument.tel_y, core_x - instrument.tel_x)
    axis += rng.normal(0, 0.08, n) + rng.normal(0, particle.axis_jitter, n)
    true_disp = impact / SHOWER_MAX_DISTANCE * instrument.focal_length
    true_disp *= rng.lognormal(0, 0.1, n)
    x = src_x + true_disp * np.cos(axis)
    y = src_y + true_disp * np.sin(axis)
    r = np.hypot(x, y)
    in_camera = r < CAMERA_RADIUS
    keep = np.flatnonzero(in_camera)
    idx, energy, core_x, core_y, impact, intensity = (
        a[keep] for a in (idx, energy, core_x, core_y, impact, intensity)
    )
    mc_alt, mc_az, src_x, src_y, axis, x, y, r = (
        a[keep] for a in (mc_alt, mc_az, src_x, src_y, axis, x, y, r)
    )
    n = len(idx)

    log_i = np.log10(intensity)
    psi_noise = rng.normal(0, 1, n) * np.clip(0.6 / np.sqrt(intensity / 50.0), 0.02, 0.6)
    psi = np.mod(axis + psi_noise + np.pi / 2, np.pi) - np.pi / 2
    length = (0.05 + 0.05 * (log_i - 1.6) + 0.0006 * impact) * rng.lognormal(0, 0.12, n)
    width = (0.02 + 0.02 * (log_i - 1.6) + 0.0001 * impact) * rng.lognormal(0, 0.12, n)
    low, high = particle.width_scale
    width_factor = rng.uniform(low, high, n)
    if particle.mc_type != 0:
        width_factor[rng.random(n) < 0.1] = 1.0  # gamma-like hadrons
    width = np.minimum(width * width_factor, length * 0.95)
    leakage2 = np.clip((r + length - 0.95) / 0.5, 0, 1).astype(np.float32)

    disp_dx, disp_dy, disp_norm, disp_angle, disp_sign = disp(x, y, src_x, src_y, psi)
    # head-tail: skewness and time gradient point to the source side, blurred at low intensity
    blur = np.clip(1.5 / np.sqrt(intensity / 50.0), 0.15, 1.5)
    skewness = -disp_sign * np.abs(rng.normal(0.4, 0.2, n)) + rng.normal(0, 0.3 * blur, n)
    time_gradient = -disp_sign * (2.0 + 8.0 * disp_norm) * rng.lognormal(0, 0.3, n)
    time_gradient += rng.normal(0, 3.0 * blur, n)

    shower = idx // SHOWER_REUSE
    columns: dict[str, np.ndarray] = {
        "obs_id": np.full(n, run),
        "event_id": (shower + 1) * 100 + idx % SHOWER_REUSE,
        "intensity": intensity,
        "log_intensity": log_i,
        "x": x,
        "y": y,
        "r": r,
        "phi": np.arctan2(y, x),
        "length": length,
        "length_uncertainty": length / np.sqrt(intensity) * 0.3,
        "width": width,
        "width_uncertainty": width / np.sqrt(intensity) * 0.3,
        "psi": psi,
        "skewness": skewness,
        "kurtosis": rng.normal(3.0, 0.5, n),
        "time_gradient": time_gradient,
        "intercept": rng.normal(15.0, 1.0, n),
        "leakage_intensity_width_1": leakage2 * 0.5,
        "leakage_intensity_width_2": leakage2,
        "leakage_pixels_width_1": leakage2 * 0.3,
        "leakage_pixels_width_2": leakage2 * 0.6,
        "n_pixels": (1.1 * intensity**0.45 + 4).astype(np.int64),
        "concentration_cog": np.clip(rng.normal(0.15, 0.05, n), 0.01, 1),
        "concentration_core": np.clip(rng.normal(0.5, 0.1, n), 0.01, 1),
        "concentration_pixel": np.clip(rng.normal(0.08, 0.03, n), 0.005, 1),
        "n_islands": 1 + (rng.random(n) < (0.05 if particle.mc_type == 0 else 0.4)),
        "alt_tel": np.full(n, POINTING_ALT),
        "az_tel": np.full(n, POINTING_AZ),
        "sin_az_tel": np.full(n, np.sin(POINTING_AZ)),
        "calibration_id": np.full(n, -1),
        "mc_energy": energy,
        "log_mc_energy": np.log10(energy),
        "mc_alt": mc_alt,
        "mc_az": mc_az,
        "mc_core_x": core_x,
        "mc_core_y": core_y,
        "mc_h_first_int": rng.normal(25_000.0, 6_000.0, n),
        "mc_type": np.full(n, particle.mc_type),
        "mc_az_tel": np.full(n, POINTING_AZ),
        "mc_alt_tel": np.full(n, POINTING_ALT),
        "mc_x_max": 300.0 + 80.0 * np.log10(energy) + rng.normal(0, 40.0, n),
        "mc_core_distance": impact,
        "wl": width / length,
        "tel_id": np.ones(n),
        "tel_pos_x": np.full(n, instrument.tel_x),
        "tel_pos_y": np.full(n, instrument.tel_y),
        "tel_pos_z": np.full(n, instrument.tel_z),
        "trigger_type": np.full(n, EVENT_TYPE_SUBARRAY),
        "trigger_time": 1.6e9 + run * 1e4 + np.sort(rng.uniform(0, 3600.0, n)),
        "event_type": np.full(n, EVENT_TYPE_SUBARRAY),
        "disp_dx": disp_dx,
        "disp_dy": disp_dy,
        "disp_norm": disp_norm,
        "disp_angle": disp_angle,
        "disp_sign": disp_sign,
        "src_x": src_x,
        "src_y": src_y,
    }
    # real DL1 has a few rows whose Hillas fit failed at low intensity
    failed = (intensity < 100) & (rng.random(n) < 0.05)
    for name in ("width", "length", "wl", "psi", "skewness", "kurtosis", "time_gradient"):
        columns[name] = np.where(failed, np.nan, columns[name])
    return columns, thrown_energy, thrown_core


def _records(table: tables.Table, columns: dict[str, np.ndarray]) -> np.ndarray:
    names = set(table.dtype.names or ())
    if names != set(columns):
        raise JobError(
            f"template table {table._v_pathname} has columns {sorted(names ^ set(columns))} "
            "that the generator does not know (or lacks ones it writes); use a DL1 template "
            "written by lstchain 0.12.3's lstchain_mc_r0_to_dl1"
        )
    records = np.zeros(len(next(iter(columns.values()))), dtype=table.dtype)
    for name, values in columns.items():
        records[name] = values
    return records


def _replace_rows(table: tables.Table, records: np.ndarray) -> None:
    table.truncate(0)
    table.append(records)
    table.flush()


def write_run(
    template: Path, output: Path, particle_name: str, run: int, n_showers: int, overwrite: bool
) -> int:
    """Write one synthetic run file from ``template``; return the number of events kept."""
    particle = PARTICLES[particle_name]
    with atomic_output(output, overwrite) as tmp:
        shutil.copyfile(template, tmp)
        with tables.open_file(tmp, "a") as h5:
            for path in (PARAMETERS, TRIGGER, RUN_CONFIG, THROWN):
                if path not in h5:
                    raise JobError(f"template {template} has no {path}: not an lstchain MC DL1")
            if IMAGES in h5:
                h5.remove_node(IMAGES, recursive=True)
            instrument = read_instrument(h5)
            columns, thrown_energy, thrown_core = simulate_run(
                particle_name, run, n_showers, instrument
            )
            n = len(columns["obs_id"])
            parameters = h5.get_node(PARAMETERS)
            _replace_rows(parameters, _records(parameters, columns))

            trigger = h5.get_node(TRIGGER)
            rows = np.zeros(n, dtype=trigger.dtype)
            rows["obs_id"] = run
            rows["event_id"] = columns["event_id"]
            seconds = np.floor(columns["trigger_time"])
            rows["time"][:, 0] = seconds
            rows["time"][:, 1] = ((columns["trigger_time"] - seconds) * 2**32).astype(np.uint32)
            rows["tels_with_trigger"] = True
            rows["event_type"] = EVENT_TYPE_SUBARRAY
            _replace_rows(trigger, rows)

            run_config = h5.get_node(RUN_CONFIG)
            config = run_config.read()[:1].copy()
            for name, value in {
                "obs_id": run,
                "run_number": run,
                "energy_range_min": particle.energy_min,
                "energy_range_max": particle.energy_max,
                "spectral_index": -2.0,
                "n_showers": n_showers,
                "shower_reuse": SHOWER_REUSE,
                "max_alt": POINTING_ALT,
                "min_alt": POINTING_ALT,
                "max_az": POINTING_AZ,
                "min_az": POINTING_AZ,
                "diffuse": int(particle.viewcone_max > 0),
                "max_viewcone_radius": particle.viewcone_max,
                "min_viewcone_radius": particle.viewcone_min,
                "max_scatter_range": particle.max_scatter,
                "min_scatter_range": 0.0,
            }.items():
                config[name] = value
            _replace_rows(run_config, config)

            thrown = h5.get_node(THROWN)
            hist = thrown.read()[:1].copy()
            counts, _, _ = np.histogram2d(
                thrown_energy, thrown_core, bins=(hist["bins_energy"][0], hist["bins_core_dist"][0])
            )
            hist["obs_id"] = run
            hist["num_entries"] = len(thrown_energy)
            hist["histogram"][0] = counts
            _replace_rows(thrown, hist)
    return n


def output_name(particle_name: str, run: int) -> str:
    return f"dl1_{particle_name}_run{run:04d}.h5"


def generate(
    template: Path,
    particle_name: str,
    runs: Sequence[int],
    n_showers: int,
    output_dir: Path,
    overwrite: bool = False,
) -> list[Path]:
    """Write one file per run into ``output_dir``; return their paths."""
    if particle_name not in PARTICLES:
        raise JobError(f"unknown particle {particle_name!r}; choose one of {sorted(PARTICLES)}")
    if not template.is_file():
        raise JobError(
            f"DL1 template {template} does not exist; make it with lstchain_mc_r0_to_dl1"
        )
    if n_showers < 1:
        raise JobError(f"--n-showers must be positive, got {n_showers}")
    outputs = []
    for run in runs:
        output = output_dir / output_name(particle_name, run)
        n = write_run(template, output, particle_name, run, n_showers, overwrite)
        print(f"{output}: {n} events from {n_showers * SHOWER_REUSE} thrown")
        outputs.append(output)
    return outputs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lstflow_dev.jobs.synthetic_dl1",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--template", type=Path, required=True, help="real lstchain MC DL1 file")
    parser.add_argument("--particle", required=True, choices=sorted(PARTICLES))
    parser.add_argument("--runs", type=int, nargs="+", required=True, help="run numbers")
    parser.add_argument("--n-showers", type=int, required=True, help="showers per run (x10 reuse)")
    parser.add_argument("-o", "--output-dir", type=Path, required=True)
    parser.add_argument("--overwrite", action="store_true")
    return parser


@job_main("synthetic_dl1")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    generate(
        args.template, args.particle, args.runs, args.n_showers, args.output_dir, args.overwrite
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
