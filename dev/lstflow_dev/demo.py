"""The demo: three small productions run through real Airflow on the local Slurm cluster.

1. ``lstflow_demo_dl1``: the real sim_telarray test files through ``lstchain_mc_r0_to_dl1``,
   then merged;
2. ``lstflow_demo_dl1ab``: ``lstchain_dl1ab`` on those DL1 files;
3. ``lstflow_demo_analysis``: split, merge, train, DL2, IRFs and sensitivity on a synthetic DL1
   set built from a real DL1 file of step 1 (the real files hold a handful of events).

Shared by ``make demo`` (``python -m lstflow_dev demo``) and the end-to-end tests, so both run
exactly the same thing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstflow.product_base.options import log_root
from lstflow.productions.naming import dag_id_for
from lstflow_dev import localcluster, testdata
from lstflow_dev.checkout import CHECKOUT_ROOT, job_pythonpath, state_dir

PRODUCTIONS = ("lstflow_demo_dl1", "lstflow_demo_dl1ab", "lstflow_demo_analysis")
# DL0 directory -> (real simtel file, how many links to it): several files per directory so the
# r0_to_dl1 batches have several files, and names that say what they are.
DL0_LINKS = {
    "gamma": ("history_meta_75.simtel.zst", 3),
    "proton": ("run202_proton_za20deg_azm0deg_North-Prod5_layout_test-prod.simtel.zst", 2),
}
TEMPLATE = "demo/DL1/gamma/dl1_gamma_run1.h5"
SYNTHETIC_STEP = "synthetic DL1"


@dataclass(frozen=True)
class SyntheticSet:
    directory: str
    particle: str
    runs: tuple[int, ...]
    n_showers: int


SYNTHETIC_SETS = (
    SyntheticSet("gamma-diffuse", "gamma_diffuse", (1, 2, 3, 4), 50_000),
    SyntheticSet("proton", "proton", (101, 102, 103, 104), 200_000),
    SyntheticSet("gamma", "gamma", (301, 302), 30_000),
)
PRODUCTS = {
    "DL1 (real, r0_to_dl1)": "demo/DL1",
    "DL1 merged": "demo/DL1/merged",
    "DL1b (dl1ab)": "demo/DL1ab/gamma",
    "DL1 synthetic": "demo/synthetic",
    "models": "demo/models",
    "feature importance plot": "demo/models/features_importance.png",
    "DL2": "demo/DL2",
    "IRF": "demo/IRF/irf_pointlike.fits.gz",
    "sensitivity": "demo/IRF/sensitivity.fits.gz",
    "sensitivity plot": "demo/IRF/sensitivity.png",
    "IRF performance plot": "demo/IRF/sensitivity_irfs.png",
}


def default_data_root() -> Path:
    return Path(os.environ.get("LSTFLOW_DATA_ROOT") or state_dir() / "data")


def demo_environment(data_root: Path) -> dict[str, str]:
    """What the demo configs and the Airflow process need: paths and the cluster connection."""
    return {
        "LSTFLOW_DATA_ROOT": str(data_root),
        "LSTFLOW_ANALYSIS_ENV": sys.prefix,
        "AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM": localcluster.airflow_connection_json(),
    }


def give_to(path: Path, user: str) -> None:
    """Jobs run as the cluster's user: it must own what they write into."""
    shutil.chown(path, user, user)


def prepare_dl0(data_root: Path, user: str) -> None:
    for directory in (data_root, data_root / "demo", Path(log_root())):
        directory.mkdir(parents=True, exist_ok=True)
        give_to(directory, user)
    for particle, (name, copies) in DL0_LINKS.items():
        dl0 = data_root / "demo" / "DL0" / particle
        dl0.mkdir(parents=True, exist_ok=True)
        give_to(dl0.parent, user)
        give_to(dl0, user)
        for run in range(1, copies + 1):
            link = dl0 / f"{particle}_run{run}.simtel.zst"
            if not link.is_symlink():
                link.symlink_to(testdata.simtel_file(name))


def make_synthetic_dl1(data_root: Path, user: str) -> None:
    """The synthetic DL1 set of part 3, built as the job user from part 1's real DL1 file."""
    template = data_root / TEMPLATE
    for synthetic in SYNTHETIC_SETS:
        directory = data_root / "demo" / "synthetic" / synthetic.directory
        if directory.is_dir() and any(directory.rglob("*.h5")):
            continue
        command = [
            "runuser",
            "-u",
            user,
            "--",
            sys.executable,
            "-m",
            "lstflow_dev.jobs.synthetic_dl1",
            "--template",
            str(template),
            "--particle",
            synthetic.particle,
            "--runs",
            *map(str, synthetic.runs),
            "--n-showers",
            str(synthetic.n_showers),
            "-o",
            str(directory),
        ]
        environment = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": job_pythonpath()}
        subprocess.run(command, check=True, env=environment)


def run_production(prod_id: str, conf: dict[str, Any]) -> str:
    """Trigger one production DAG through ``dag.test()`` (real Airflow, real Slurm)."""
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(str(CHECKOUT_ROOT / "dags" / "lstflow_productions.py"))
    dag = dagbag.dags.get(dag_id_for(prod_id))
    if dag is None:
        raise RuntimeError(f"no DAG for {prod_id}; import errors: {dagbag.import_errors}")
    run = dag.test(run_conf=conf)
    return str(run.state)


Watch = Callable[[str], AbstractContextManager[object]]


def _no_watch(step: str) -> AbstractContextManager[object]:
    return nullcontext()


def run_demo(
    data_root: Path, conf: dict[str, Any] | None = None, watch: Watch = _no_watch
) -> dict[str, str]:
    """Run the three productions in order; returns each production's DAG run state.

    ``watch(step)`` wraps each step (a prod_id, or ``synthetic DL1``): ``make demo`` shows
    progress with it.
    """
    os.environ.update(demo_environment(data_root))
    user = localcluster.cluster_env()["SLURM_SSH_USER"]
    prepare_dl0(data_root, user)
    with watch(PRODUCTIONS[0]):
        states = {PRODUCTIONS[0]: run_production(PRODUCTIONS[0], conf or {})}
    if states[PRODUCTIONS[0]] == "success":
        with watch(SYNTHETIC_STEP):
            make_synthetic_dl1(data_root, user)
        for prod_id in PRODUCTIONS[1:]:
            with watch(prod_id):
                states[prod_id] = run_production(prod_id, conf or {})
    return states


def products(data_root: Path) -> dict[str, Path]:
    return {label: data_root / relative for label, relative in PRODUCTS.items()}
