"""The demo productions through real Airflow (``dag.test()``) on the real local Slurm, with the
real lstchain 0.12 tools on the real sim_telarray files, products checked with h5py/astropy.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from support.demo_run import DemoRun
from support.slurm_counts import count_jobs_by_tag

from lstflow.productions.naming import dag_id_for
from lstflow.slurm.hook import SlurmHook
from lstflow_dev import demo

# The demo productions (a session fixture) run once, on the worker that runs their readers.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("demo")]

PARAMETERS = "dl1/event/telescope/parameters/LST_LSTCam"
DL2_PARAMETERS = "dl2/event/telescope/parameters/LST_LSTCam"
# Rows lstchain 0.12.3 writes for each real file (data README): 1 for the gamma, 2 for the proton.
ROWS_PER_FILE = {"gamma": 1, "proton": 2}


def rows(path: Path, table: str = PARAMETERS) -> int:
    with h5py.File(path, "r") as file:
        return int(file[table].shape[0])


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


@pytest.fixture(scope="module")
def demo_root(demo_data: Path) -> Path:
    return demo_data


def test_r0_to_dl1_writes_one_dl1_file_per_input_with_its_rows(demo_root: Path) -> None:
    for particle, (_, copies) in demo.DL0_LINKS.items():
        outputs = sorted((demo_root / "DL1" / particle).glob("dl1_*.h5"))
        assert [p.name for p in outputs] == [
            f"dl1_{particle}_run{run}.h5" for run in range(1, copies + 1)
        ]
        assert [rows(p) for p in outputs] == [ROWS_PER_FILE[particle]] * copies


def test_merged_dl1_row_counts_add_up(demo_root: Path) -> None:
    for particle in demo.DL0_LINKS:
        inputs = sorted((demo_root / "DL1" / particle).glob("dl1_*.h5"))
        merged = demo_root / "DL1" / "merged" / f"dl1_{particle}_merged.h5"
        assert rows(merged) == sum(rows(p) for p in inputs)


def test_dl1ab_reprocesses_every_dl1_file(demo_root: Path) -> None:
    inputs = sorted((demo_root / "DL1" / "gamma").glob("dl1_*.h5"))
    outputs = sorted((demo_root / "DL1ab" / "gamma").glob("dl1_*.h5"))
    assert [p.name for p in outputs] == [p.name for p in inputs]
    assert [rows(p) for p in outputs] == [rows(p) for p in inputs]


def test_train_test_split_and_merges_keep_every_synthetic_event(demo_root: Path) -> None:
    synthetic = demo_root / "synthetic"
    for particle in ("gamma-diffuse", "proton"):
        train = sorted((synthetic / particle / "train").glob("*.h5"))
        test = sorted((synthetic / particle / "test").glob("*.h5"))
        assert len(train) == len(test) == 2
        merged_train = demo_root / "merged" / f"dl1_{particle}_train.h5"
        assert rows(merged_train) == sum(rows(p) for p in train)


def test_models_and_feature_importance_plot_exist(demo_root: Path) -> None:
    models = demo_root / "models"
    assert sorted(p.name for p in models.glob("*.sav")) == [
        "cls_disp_sign.sav",
        "cls_gh.sav",
        "reg_disp_norm.sav",
        "reg_energy.sav",
    ]
    assert (models / "features_importance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dl2_has_gammaness_and_reco_energy(demo_root: Path) -> None:
    dl2_files = sorted((demo_root / "DL2").glob("dl2_*.h5"))
    assert [p.name for p in dl2_files] == [
        "dl2_gamma-diffuse_test.h5",
        "dl2_gamma_test.h5",
        "dl2_proton_test.h5",
    ]
    for path in dl2_files:
        with h5py.File(path, "r") as file:
            table = file[DL2_PARAMETERS]
            assert {"gammaness", "reco_energy"} <= set(table.dtype.names)
            assert table.shape[0] > 1000
        # The table is blosc-compressed by PyTables, which h5py alone cannot decompress.
        values = pd.read_hdf(path, DL2_PARAMETERS, columns=["gammaness", "reco_energy"])
        assert values["gammaness"].between(0, 1).all()
        assert (values["reco_energy"] > 0).all()


def test_dl2_separates_gammas_from_protons(demo_root: Path) -> None:
    gammaness = {
        particle: pd.read_hdf(demo_root / "DL2" / f"dl2_{particle}_test.h5", DL2_PARAMETERS)[
            "gammaness"
        ].mean()
        for particle in ("gamma", "proton")
    }
    assert gammaness["gamma"] > gammaness["proton"] + 0.3


def test_irf_has_effective_area_and_energy_dispersion(demo_root: Path) -> None:
    with fits.open(demo_root / "IRF" / "irf_pointlike.fits.gz") as hdus:
        names = {hdu.name for hdu in hdus}
        assert np.nanmax(hdus["EFFECTIVE AREA"].data["EFFAREA"]) > 1e3  # m2
    assert {"EFFECTIVE AREA", "ENERGY DISPERSION"} <= names


@pytest.mark.parametrize(
    ("module", "arguments"),
    [
        ("plot_rf_importance", ["models"]),
        ("sensitivity", ["-g", "DL2/dl2_gamma_test.h5", "-p", "DL2/dl2_proton_test.h5", "-o",
                         "IRF/sensitivity.fits.gz"]),
    ],
)  # fmt: skip
def test_job_outputs_are_never_replaced_without_overwrite(
    demo_root: Path, module: str, arguments: list[str]
) -> None:
    before = snapshot(demo_root)
    argv = [a if a.startswith("-") else str(demo_root / a) for a in arguments]
    done = subprocess.run(
        [sys.executable, "-m", f"lstflow.jobs.{module}", *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "already exists; pass --overwrite" in done.stderr
    assert snapshot(demo_root) == before


def test_sensitivity_is_finite_in_several_energy_bins_and_plotted(demo_root: Path) -> None:
    with fits.open(demo_root / "IRF" / "sensitivity.fits.gz") as hdus:
        sensitivity = hdus["SENSITIVITY"].data["relative_sensitivity"]
        effective_area = hdus["IRF_PERFORMANCE"].data["effective_area"]
    assert np.isfinite(sensitivity).sum() >= 3
    assert (effective_area > 0).sum() >= 3
    for plot in ("sensitivity.png", "sensitivity_irfs.png"):
        assert (demo_root / "IRF" / plot).read_bytes()[:4] == b"\x89PNG"


def test_second_trigger_without_overwrite_refuses_and_touches_nothing(demo_root: Path) -> None:
    before = snapshot(demo_root)
    prefix = f"lstflow.{dag_id_for(demo.PRODUCTIONS[0])}."
    hook = SlurmHook()
    submitted_before = count_jobs_by_tag(hook, prefix)
    assert demo.run_production(demo.PRODUCTIONS[0], {"overwrite": "refuse"}) == "failed"
    assert count_jobs_by_tag(hook, prefix) == submitted_before
    assert snapshot(demo_root) == before


def test_the_demo_is_quiet_with_progress_and_a_full_log(demo_run: DemoRun) -> None:
    """``make demo``: progress per production and stage, at most about 60 lines, the path of
    the full log (which holds Airflow's own lines) first and last."""
    lines = demo_run.console.splitlines()
    assert len(lines) <= 60, demo_run.console
    assert lines[0] == f"lstflow demo: full log in {demo_run.log_path}"
    assert lines[-1] == f"Full log: {demo_run.log_path}"
    for prod_id in demo.PRODUCTIONS:
        assert f"{prod_id}:" in lines
    r0_done = [line for line in lines if line.strip().startswith("r0_to_dl1 ")][-1]
    assert "[####################]" in r0_done and "(success)" in r0_done
    assert " done" in r0_done
    log = demo_run.log_path.read_text(errors="replace")
    # the Airflow lines the terminal no longer shows, e.g. the Slurm trigger's
    assert "waiting for jobs" in log and len(log.splitlines()) > len(lines)
