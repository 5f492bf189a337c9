"""Point-source sensitivity from MC DL2 with pyirf (replaces lstmcpipe's crashing stage).

Recipe (pyirf 0.12, as its EventDisplay-like example): events weighted to the Crab (HEGRA),
the IRF-document proton and electron spectra for the observation time; a first theta cut at 68 %
containment of the best gammas; the gammaness cut optimised per reconstructed-energy bin for
the best sensitivity; then the theta cut recomputed (68 %) on the gammas passing it; the
background estimated from all background events within 1 deg of the camera centre, scaled to
the off regions (alpha 0.2); Li & Ma sensitivity with 5 sigma, 10 events, 5 % systematics.

    python -m lstflow.jobs.sensitivity -g GAMMA_DL2 -p PROTON_DL2 [-e ELECTRON_DL2]
        -o sensitivity.fits.gz [--obs-time-hours 50] [--overwrite]

Writes the FITS file (HDUs SENSITIVITY, GH_CUTS, THETA_CUTS) and the plot next to it (same
name, ``.png``), both atomically.
"""

from __future__ import annotations

import argparse
import operator
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable, vstack

from lstflow.jobs.common import JobError, atomic_output, job_main, refuse_existing

ALPHA = 0.2
MAX_BACKGROUND_OFFSET = 1.0 * u.deg
INITIAL_GH_EFFICIENCY = 0.4
GH_EFFICIENCIES = np.arange(0.1, 0.951, 0.05)
THETA_CONTAINMENT = 68
THETA_CUT_LIMITS = (0.05 * u.deg, 0.32 * u.deg)
ENERGY_BINS_PER_DECADE = 5
RECO_ENERGY_RANGE = (10**-1.9 * u.TeV, 10**2.31 * u.TeV)


def plot_path(fits_path: Path, tag: str = "") -> Path:
    """``x.fits.gz`` (or ``x.fits``) -> ``x{tag}.png``; without a tag, lstmcpipe's name of the
    sensitivity plot; ``irf_plot_path`` gives the IRF plot's."""
    name = fits_path.name
    for suffix in (".fits.gz", ".fits"):
        if name.endswith(suffix):
            return fits_path.with_name(name[: -len(suffix)] + tag + ".png")
    return fits_path.with_name(name + tag + ".png")


def irf_plot_path(fits_path: Path) -> Path:
    return plot_path(fits_path, "_irfs")


def read_events(path: Path, target_spectrum: Any, obs_time: u.Quantity) -> tuple[QTable, Any]:
    """Read one lstchain MC DL2 file, add pyirf's weight and field-of-view offsets; return the
    events and their simulation info (needed for effective areas)."""
    from lstchain.io.io import read_mc_dl2_to_QTable
    from pyirf.spectral import PowerLaw, calculate_event_weights
    from pyirf.utils import calculate_source_fov_offset

    if not path.is_file():
        raise JobError(f"DL2 file {path} does not exist")
    try:
        events, simulation_info, _ = read_mc_dl2_to_QTable(str(path))
    except (KeyError, OSError) as exc:
        raise JobError(f"{path} is not an lstchain MC DL2 file: {exc}") from exc
    finite = np.isfinite(events["gh_score"]) & np.isfinite(events["reco_energy"])
    events = events[finite]
    simulated = PowerLaw.from_simulation(simulation_info, obstime=obs_time)
    events["weight"] = calculate_event_weights(events["true_energy"], target_spectrum, simulated)
    for prefix in ("true", "reco"):
        events[f"{prefix}_source_fov_offset"] = calculate_source_fov_offset(events, prefix=prefix)
    return events, simulation_info


def compute_sensitivity(gammas: QTable, background: QTable) -> tuple[QTable, QTable, QTable]:
    """Return (sensitivity, gammaness cuts, theta cuts) per reconstructed-energy bin."""
    from pyirf.binning import add_overflow_bins, create_bins_per_decade, create_histogram_table
    from pyirf.cut_optimization import optimize_gh_cut
    from pyirf.cuts import calculate_percentile_cut, evaluate_binned_cut
    from pyirf.sensitivity import calculate_sensitivity, estimate_background
    from pyirf.spectral import CRAB_HEGRA
    from pyirf.utils import calculate_theta

    bins = add_overflow_bins(create_bins_per_decade(*RECO_ENERGY_RANGE, ENERGY_BINS_PER_DECADE))
    gammas["theta"] = calculate_theta(
        gammas, assumed_source_az=gammas["true_az"], assumed_source_alt=gammas["true_alt"]
    )

    def theta_cut(selected: np.ndarray) -> QTable:
        return calculate_percentile_cut(
            gammas["theta"][selected],
            gammas["reco_energy"][selected],
            bins=bins,
            min_value=THETA_CUT_LIMITS[0],
            max_value=THETA_CUT_LIMITS[1],
            fill_value=THETA_CUT_LIMITS[1],
            percentile=THETA_CONTAINMENT,
        )

    initial_gh = np.quantile(gammas["gh_score"], 1 - INITIAL_GH_EFFICIENCY)
    initial_theta_cuts = theta_cut(gammas["gh_score"] >= initial_gh)
    _, gh_cuts = optimize_gh_cut(
        gammas,
        background,
        reco_energy_bins=bins,
        gh_cut_efficiencies=GH_EFFICIENCIES,
        op=operator.ge,
        theta_cuts=initial_theta_cuts,
        alpha=ALPHA,
        fov_offset_max=MAX_BACKGROUND_OFFSET,
        progress=False,
    )
    for events in (gammas, background):
        events["selected_gh"] = evaluate_binned_cut(
            events["gh_score"], events["reco_energy"], gh_cuts, operator.ge
        )
    theta_cuts = theta_cut(gammas["selected_gh"])
    gammas["selected_theta"] = evaluate_binned_cut(
        gammas["theta"], gammas["reco_energy"], theta_cuts, operator.le
    )
    signal_hist = create_histogram_table(
        gammas[gammas["selected_gh"] & gammas["selected_theta"]], bins=bins
    )
    background_hist = estimate_background(
        background[background["selected_gh"]],
        reco_energy_bins=bins,
        theta_cuts=theta_cuts,
        alpha=ALPHA,
        fov_offset_min=0 * u.deg,
        fov_offset_max=MAX_BACKGROUND_OFFSET,
    )
    # the under- and overflow bins only exist so every event meets a cut; report the real bins
    sensitivity = calculate_sensitivity(signal_hist, background_hist, alpha=ALPHA)[1:-1]
    sensitivity["flux_sensitivity"] = sensitivity["relative_sensitivity"] * CRAB_HEGRA(
        sensitivity["reco_energy_center"]
    )
    return sensitivity, gh_cuts, theta_cuts


def irf_performance(gammas: QTable, simulation_info: Any) -> QTable:
    """Effective area, angular and energy resolution of the gammas that pass both cuts, per
    true-energy bin: what lstmcpipe's IRF plot shows."""
    from pyirf.benchmarks import angular_resolution, energy_bias_resolution
    from pyirf.binning import create_bins_per_decade
    from pyirf.irf import effective_area_per_energy

    bins = create_bins_per_decade(*RECO_ENERGY_RANGE, ENERGY_BINS_PER_DECADE)
    selected = gammas[gammas["selected_gh"] & gammas["selected_theta"]]
    table = angular_resolution(selected, bins)
    table["effective_area"] = effective_area_per_energy(selected, simulation_info, bins)
    resolution = energy_bias_resolution(selected, bins)
    table["energy_bias"] = resolution["bias"]
    table["energy_resolution"] = resolution["resolution"]
    return table


def write_fits(
    path: Path,
    sensitivity: QTable,
    gh_cuts: QTable,
    theta_cuts: QTable,
    performance: QTable,
    obs_time: u.Quantity,
) -> None:
    primary = fits.PrimaryHDU()
    primary.header["OBS_TIME"] = (obs_time.to_value(u.h), "observation time [h]")
    primary.header["ALPHA"] = (ALPHA, "on/off exposure ratio")
    hdus = fits.HDUList(
        [
            primary,
            fits.BinTableHDU(sensitivity, name="SENSITIVITY"),
            fits.BinTableHDU(gh_cuts, name="GH_CUTS"),
            fits.BinTableHDU(theta_cuts, name="THETA_CUTS"),
            fits.BinTableHDU(performance, name="IRF_PERFORMANCE"),
        ]
    )
    with atomic_output(path, overwrite=True) as tmp:
        hdus.writeto(tmp)


def write_plot(path: Path, sensitivity: QTable, obs_time: u.Quantity) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pyirf.spectral import CRAB_HEGRA

    finite = np.isfinite(sensitivity["flux_sensitivity"]) & np.isfinite(
        sensitivity["reco_energy_center"]
    )
    rows = sensitivity[finite]
    unit = u.Unit("TeV cm-2 s-1")
    energy = rows["reco_energy_center"].to(u.TeV)
    e2_flux = (energy**2 * rows["flux_sensitivity"]).to(unit)
    xerr = [
        (energy - rows["reco_energy_low"]).to_value(u.TeV),
        (rows["reco_energy_high"] - energy).to_value(u.TeV),
    ]
    figure, axes = plt.subplots(figsize=(7, 5))
    axes.errorbar(energy.to_value(u.TeV), e2_flux.value, xerr=xerr, fmt="o", label="sensitivity")
    crab_energy = np.geomspace(0.01, 100, 100) * u.TeV
    axes.plot(
        crab_energy.value,
        (crab_energy**2 * CRAB_HEGRA(crab_energy)).to_value(unit),
        "k--",
        label="Crab (HEGRA)",
    )
    axes.set(
        xscale="log",
        yscale="log",
        xlabel="reconstructed energy [TeV]",
        ylabel=f"E² · flux sensitivity [{unit.to_string('latex')}]",
        title=f"point-source sensitivity, {obs_time.to_value(u.h):g} h",
    )
    axes.legend()
    axes.grid(which="both", alpha=0.3)
    with atomic_output(path, overwrite=True) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)


def write_irf_plot(path: Path, performance: QTable) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    energy = performance["true_energy_center"].to_value(u.TeV)
    figure, (area, angular, resolution) = plt.subplots(1, 3, figsize=(15, 4.5))
    area.plot(energy, performance["effective_area"].to_value(u.m**2), "o-")
    area.set(yscale="log", ylabel="effective area after cuts [m²]")
    angular.plot(energy, performance["angular_resolution_68"].to_value(u.deg), "o-")
    angular.set(ylabel="angular resolution (68 %) [deg]")
    resolution.plot(energy, performance["energy_resolution"], "o-", label="resolution")
    resolution.plot(energy, performance["energy_bias"], "s--", label="bias")
    resolution.set(ylabel="energy resolution and bias")
    resolution.legend()
    for axes in (area, angular, resolution):
        axes.set(xscale="log", xlabel="true energy [TeV]")
        axes.grid(which="both", alpha=0.3)
    figure.suptitle("IRF performance of the point-like gammas after the optimised cuts")
    figure.tight_layout()
    with atomic_output(path, overwrite=True) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lstflow.jobs.sensitivity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-g", "--gamma", type=Path, required=True, help="point-like gamma DL2")
    parser.add_argument("-p", "--proton", type=Path, required=True, help="proton DL2")
    parser.add_argument("-e", "--electron", type=Path, help="electron DL2 (optional)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="sensitivity .fits.gz")
    parser.add_argument("--obs-time-hours", type=float, default=50.0)
    parser.add_argument("--overwrite", action="store_true")
    return parser


@job_main("sensitivity")
def main(argv: Sequence[str] | None = None) -> int:
    from pyirf.spectral import CRAB_HEGRA, IRFDOC_ELECTRON_SPECTRUM, IRFDOC_PROTON_SPECTRUM

    args = build_parser().parse_args(argv)
    png, irf_png = plot_path(args.output), irf_plot_path(args.output)
    for target in (args.output, png, irf_png):
        refuse_existing(target, args.overwrite)
    obs_time = args.obs_time_hours * u.h
    gammas, gamma_simulation = read_events(args.gamma, CRAB_HEGRA, obs_time)
    background_parts = [read_events(args.proton, IRFDOC_PROTON_SPECTRUM, obs_time)[0]]
    if args.electron is not None:
        electrons, _ = read_events(args.electron, IRFDOC_ELECTRON_SPECTRUM, obs_time)
        background_parts.append(electrons)
    background = vstack(background_parts, metadata_conflicts="silent")
    sensitivity, gh_cuts, theta_cuts = compute_sensitivity(gammas, background)
    n_finite = int(np.isfinite(sensitivity["relative_sensitivity"]).sum())
    if n_finite == 0:
        raise JobError("the sensitivity is not finite in any energy bin: too few events")
    performance = irf_performance(gammas, gamma_simulation)
    write_fits(args.output, sensitivity, gh_cuts, theta_cuts, performance, obs_time)
    write_plot(png, sensitivity, obs_time)
    write_irf_plot(irf_png, performance)
    print(f"{args.output}: sensitivity finite in {n_finite} energy bins; plots {png} {irf_png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
