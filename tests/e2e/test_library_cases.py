"""One production of three configs sharing a prod_id (the library's follow-up-config shape), run
for real through ``dag.test()`` on the local Slurm with its partial config: a rerun of the proton
DL1, whose legacy ``slurm_options`` (``-p short --mem=3G -t 00:20:00``) reach sbatch.

The partial config runs the real ``lstchain_mc_r0_to_dl1`` on a real sim_telarray file and
merges the result; the stages it does not run are skipped; the run record and provenance.json
say which config ran.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import h5py
import pytest
from support.library_cases import SHARED_PROD_ID, SharedProdIdLibrary, write_shared_prod_id_library
from support.operator_dags import run_production_dag, task_states

from lstflow.productions.naming import dag_id_for
from lstflow.productions.stage_operator import run_label
from lstflow.slurm.hook import SlurmHook
from lstflow_dev import localcluster, testdata

pytestmark = pytest.mark.e2e

CHECKOUT = Path(__file__).resolve().parents[2]
PROTON = "run202_proton_za20deg_azm0deg_North-Prod5_layout_test-prod.simtel.zst"
PARAMETERS = "dl1/event/telescope/parameters/LST_LSTCam"


@pytest.fixture
def library(
    slurm_cluster: localcluster.ClusterInfo,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[SharedProdIdLibrary, Path]]:
    """The shared-prod_id library, its data root a job-user-owned directory with one real
    proton sim_telarray file in DL0/proton."""
    data = localcluster.make_workdir("library-cases")
    (data / "DL0" / "proton").mkdir(parents=True)
    (data / "DL0" / "proton" / "proton_run1.simtel.zst").symlink_to(testdata.simtel_file(PROTON))
    (data / "prod_logs").mkdir()
    user = localcluster.cluster_env()["SLURM_SSH_USER"]
    for path in (data / "DL0", data / "DL0" / "proton", data / "prod_logs"):
        shutil.chown(path, user, user)
    files = write_shared_prod_id_library(
        tmp_path / "library", str(data), source_file=f"{sys.prefix}/bin/activate"
    )
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(files.root))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PARSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__LOG_ROOT", str(data / "prod_logs"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield files, data
    localcluster.remove_workdir(data)


def test_a_partial_config_of_a_shared_prod_id_runs_for_real(
    library: tuple[SharedProdIdLibrary, Path],
) -> None:
    files, data = library
    partial = files.label(files.partial)
    state, run_id = run_production_dag(CHECKOUT / "dags", SHARED_PROD_ID, {"config": partial})
    assert state == "success"
    states = task_states(dag_id_for(SHARED_PROD_ID), run_id)
    assert states == {
        "r0_to_dl1": "success",
        "merge_dl1": "success",
        "train_pipe": "skipped",
        "plot_rf_feat": "skipped",
        "dl1_to_dl2": "skipped",
        "dl2_to_irfs": "skipped",
        "provenance": "success",
    }
    # the real lstchain outputs of the partial config, and nothing of the full one
    dl1 = data / "DL1" / "proton" / "dl1_proton_run1.h5"
    with h5py.File(dl1, "r") as file:
        assert file[PARAMETERS].shape[0] == 2  # lstchain 0.12.3 writes 2 rows for this file
    with h5py.File(data / "DL1" / "merged" / "dl1_proton_merged.h5", "r") as file:
        assert file[PARAMETERS].shape[0] == 2
    assert not (data / "DL1" / "gamma").exists()
    # which config ran: in the run record of each stage and in provenance.json
    runs = data / "prod_logs" / SHARED_PROD_ID / "runs" / run_label(run_id)
    record = json.loads((runs / "r0_to_dl1.json").read_text())
    assert (record["config"], record["config_path"]) == (partial, str(files.partial))
    provenance = json.loads((runs / "provenance.json").read_text())
    assert provenance["config"] == partial
    assert provenance["configs"]["production"]["path"] == str(files.partial)
    # the legacy slurm_options of the partial config are what sbatch got
    r0_jobs = provenance["stages"]["r0_to_dl1"]["job_ids"]
    merge_jobs = provenance["stages"]["merge_dl1"]["job_ids"]
    argv = ["sacct", "-n", "-P", "-X", "-o", "Partition,ReqMem,Timelimit", "-j"]
    hook = SlurmHook()
    r0 = hook.check([*argv, ",".join(r0_jobs)]).stdout.split()
    assert set(r0) == {"short|3G|00:20:00"}
    merge = hook.check([*argv, ",".join(merge_jobs)]).stdout.split()
    assert {row.split("|")[:2] == ["short", "2G"] for row in merge} == {True}
