"""lstosa's lstchain command lines, as argv tuples (never shell strings).

Each function mirrors one lstosa step (reference: lstosa v0.11.10, ``job.py`` / ``closer.py`` /
``gain_selection.py`` / ``sequencer_catB_tailcuts.py``) with these deliberate differences, all
checked against lstchain 0.12.3's parsers by the command-contract test:

- ``lstchain_dl1ab`` gets ``--no-image`` (lstosa's ``--no-image=True`` is rejected by its
  store_true option);
- the onsite Cat-A tools get ``-v`` so the output directory is the analysis version's
  ``calibration_version`` instead of the installed lstchain's;
- the Cat-B tool gets the Cat-A calibration and systematics files the night's R0→DL1 uses
  (lstosa passes them only for ``catA_calibrated``; otherwise lstchain looks them up through the
  ``pro`` links, which can name another version), and its run number unpadded (argparse's int
  drops lstosa's zero padding anyway);
- the Cherenkov transparency reads the night's run-wise datacheck directory, where lstflow's run
  datacheck writes (lstosa's run datachecks sit in ``tailcut*/datacheck``, a glob lstchain
  expands itself).
"""

from __future__ import annotations

from pathlib import Path

from lstflow.onsite.calibration import CalibrationFiles

Argv = tuple[str, ...]

DL1_SUBRUN_PATTERN = "dl1_LST-1.Run?????.????.h5"
MUONS_SUBRUN_PATTERN = "muons_LST-1.Run?????.????.fits"


def gain_selection(r0_file: Path, output_dir: Path, log_file: Path, ff_heuristic: bool) -> Argv:
    """``lstchain_r0_to_r0g`` on a subrun's stream-1 file; it reads the 4 streams itself."""
    argv = (
        "lstchain_r0_to_r0g",
        f"--R0-file={r0_file}",
        f"--output-dir={output_dir}",
        f"--log={log_file}",
    )
    return argv if ff_heuristic else (*argv, "--no-flatfield-heuristic")


def copy_r0(stream_files: tuple[Path, ...], output_dir: Path) -> Argv:
    """lstosa's plain copy into R0G: calibration runs and subruns without all 4 streams."""
    return ("cp", "--", *(str(path) for path in stream_files), f"{output_dir}/")


def drs4_baseline(drs4_run: int, base: Path, r0_root: Path, calibration_version: str) -> Argv:
    return (
        "onsite_create_drs4_pedestal_file",
        "-r",
        str(drs4_run),
        "-v",
        calibration_version,
        "-b",
        str(base),
        f"--r0-dir={r0_root}",
        "--no-progress",
    )


def charge_calibration(
    drs4_run: int,
    pedcal_run: int,
    base: Path,
    r0_root: Path,
    calibration_version: str,
    filters: int,
) -> Argv:
    return (
        "onsite_create_calibration_file",
        "-p",
        str(drs4_run),
        "-r",
        str(pedcal_run),
        "-v",
        calibration_version,
        "-b",
        str(base),
        f"--r0-dir={r0_root}",
        f"--filters={filters}",
    )


def r0_to_dl1(
    r0_file: Path,
    output_dir: Path,
    config: str,
    drive_log: Path,
    run_summary: Path,
    calibration: CalibrationFiles | None,
    pedestal_ids: Path | None = None,
) -> Argv:
    """``calibration`` is None for Cat-A calibrated input (lstosa's ``catA_calibrated``)."""
    argv: Argv = (
        "lstchain_data_r0_to_dl1",
        f"--input-file={r0_file}",
        f"--output-dir={output_dir}",
        f"--config={config}",
        f"--pointing-file={drive_log}",
        f"--run-summary-path={run_summary}",
    )
    if calibration is not None:
        argv = (
            *argv,
            f"--pedestal-file={calibration.drs4_pedestal}",
            f"--calibration-file={calibration.charge}",
            f"--time-calibration-file={calibration.time}",
            f"--systematic-correction-file={calibration.systematics}",
        )
    return argv if pedestal_ids is None else (*argv, f"--pedestal-ids-path={pedestal_ids}")


def catB_calibration(
    run_id: int,
    base: Path,
    r0_root: Path,
    filters: int,
    calibration: CalibrationFiles,
    pedcal_run: int,
    interleaved_dir: Path,
) -> Argv:
    """Cat-B calibration of a DATA run from its interleaved files (after its R0→DL1)."""
    return (
        "onsite_create_cat_B_calibration_file",
        "-r",
        str(run_id),
        "-b",
        str(base),
        f"--r0-dir={r0_root}",
        f"--filters={filters}",
        f"--catA_calibration_run={pedcal_run}",
        f"--interleaved-dir={interleaved_dir}",
        f"--cat_A_calibration_file={calibration.charge}",
        f"--systematics_file={calibration.systematics}",
    )


def find_tailcuts(dl1a_dir: Path, run_id: int, output_dir: Path) -> Argv:
    return (
        "lstchain_find_tailcuts",
        f"--input-dir={dl1a_dir}",
        f"--run={run_id}",
        f"--output-dir={output_dir}",
    )


def dl1ab(
    dl1a_file: Path,
    dl1b_file: Path,
    config: Path,
    store_image: bool,
    catB_calibration_file: Path | None = None,
) -> Argv:
    argv: Argv = (
        "lstchain_dl1ab",
        f"--input-file={dl1a_file}",
        f"--output-file={dl1b_file}",
        f"--config={config}",
    )
    if not store_image:
        argv = (*argv, "--no-image")
    if catB_calibration_file is not None:
        argv = (*argv, f"--catB-calibration-file={catB_calibration_file}")
    return argv


def check_dl1_subrun(dl1b_file: Path, output_dir: Path, muons_dir: Path) -> Argv:
    return (
        "lstchain_check_dl1",
        f"--input-file={dl1b_file}",
        f"--output-dir={output_dir}",
        f"--muons-dir={muons_dir}",
        "--omit-pdf",
        "--batch",
    )


def merge_dl1(dl1b_dir: Path, output_file: Path, run_id: int) -> Argv:
    return (
        "lstchain_merge_hdf5_files",
        f"--input-dir={dl1b_dir}",
        f"--output-file={output_file}",
        "--no-image",
        "--no-progress",
        f"--run-number={run_id}",
        f"--pattern={DL1_SUBRUN_PATTERN}",
    )


def merge_muons(muons_dir: Path, output_file: Path, run_id: int) -> Argv:
    return (
        "lstchain_merge_muon_files",
        f"--input-dir={muons_dir}",
        f"--output-file={output_file}",
        f"--run-number={run_id}",
        f"--pattern={MUONS_SUBRUN_PATTERN}",
    )


def dl1_to_dl2(merged_dl1: Path, output_dir: Path, rf_models: Path, config: str) -> Argv:
    return (
        "lstchain_dl1_to_dl2",
        f"--input-file={merged_dl1}",
        f"--output-dir={output_dir}",
        f"--path-models={rf_models}",
        f"--config={config}",
    )


def check_dl1_run(subrun_datacheck_pattern: str, output_dir: Path, muons_dir: Path) -> Argv:
    """The run datacheck: lstchain_check_dl1 globs the pattern itself (never the shell)."""
    return (
        "lstchain_check_dl1",
        f"--input-file={subrun_datacheck_pattern}",
        f"--output-dir={output_dir}",
        f"--muons-dir={muons_dir}",
    )


def longterm_dl1_check(datacheck_dir: Path, output_file: Path, muons_dir: Path) -> Argv:
    return (
        "lstchain_longterm_dl1_check",
        f"--input-dir={datacheck_dir}",
        f"--output-file={output_file}",
        f"--muons-dir={muons_dir}",
        "--batch",
    )


def cherenkov_transparency(longterm_file: Path, run_datacheck_dir: Path) -> Argv:
    """Adds the Cherenkov transparency of every run to the night's long-term datacheck file."""
    return (
        "lstchain_cherenkov_transparency",
        f"--update-datacheck-file={longterm_file}",
        f"--input-dir={run_datacheck_dir}",
    )
