"""The job-side modules on REAL lstchain and the REAL sim_telarray files, run locally.

No Slurm and no Airflow here: every step is the command line a job array element would run.
Expensive steps are session fixtures, each run once and shared by the tests that check it:
r0_to_dl1 through the batch runner (two good files and one that really fails), dl1ab through
the batch runner, synthetic DL1 from the real DL1 template, and the split. The downstream chain
(merge -> trainpipe -> plot -> dl1_to_dl2 -> IRFs -> sensitivity) runs through Slurm and Airflow
in tests/e2e/test_mc_production.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import tables

from lstflow.jobs.batch_manifest import BatchManifest, FileTask
from lstflow_dev import testdata
from lstflow_dev.jobs import demo_data, synthetic_dl1
from lstflow_dev.jobs.demo_data import lstchain_tool

pytestmark = pytest.mark.e2e

RunJob = Callable[..., subprocess.CompletedProcess[str]]
GOOD_GAMMA = "history_meta_75.simtel.zst"
GOOD_PROTON = "run202_proton_za20deg_azm0deg_North-Prod5_layout_test-prod.simtel.zst"
FAILING = "gamma_prod6_tel_event_header_v4.simtel.zst"
DL1_PARAMETERS = "/dl1/event/telescope/parameters/LST_LSTCam"


def python_module(module: str, *args: object) -> list[str]:
    return [sys.executable, "-m", module, *(str(a) for a in args)]


def dl1_name(simtel: str) -> str:
    return f"dl1_{simtel.removesuffix('.simtel.zst')}.h5"


def n_rows(path: Path, key: str) -> int:
    with h5py.File(path, "r") as h5:
        return int(h5[key].shape[0])


@dataclass(frozen=True)
class BatchRun:
    result: subprocess.CompletedProcess[str]
    output_dir: Path
    log_dir: Path
    failed_dir: Path


def run_batch(run_job: RunJob, workdir: Path, tasks: list[FileTask], expect: int) -> BatchRun:
    workdir.mkdir(parents=True)
    manifest = workdir / "manifest.json"
    BatchManifest((tuple(tasks),)).write(manifest)
    log_dir, failed_dir = workdir / "job_logs", workdir / "failed_outputs"
    result = run_job(
        python_module(
            "lstflow.jobs.batch",
            manifest,
            "--element",
            0,
            "--log-dir",
            log_dir,
            "--failed-outputs-dir",
            failed_dir,
        ),
        expect=expect,
    )
    return BatchRun(result, workdir, log_dir, failed_dir)


@pytest.fixture(scope="session")
def chain_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jobs_chain")


@pytest.fixture(scope="session")
def r0_batch(run_job: RunJob, chain_dir: Path) -> BatchRun:
    """r0_to_dl1 of one element: a gamma, the failing prod6 file, then a proton."""
    out = chain_dir / "r0_to_dl1" / "dl1"
    tool = lstchain_tool("lstchain_mc_r0_to_dl1")
    tasks = [
        FileTask(
            (tool, "-f", str(testdata.simtel_file(name)), "-o", str(out)), str(out / dl1_name(name))
        )
        for name in (GOOD_GAMMA, FAILING, GOOD_PROTON)
    ]
    return run_batch(run_job, chain_dir / "r0_to_dl1", tasks, expect=1)


@pytest.fixture(scope="session")
def dl1_template(r0_batch: BatchRun) -> Path:
    """The demo helper finds the r0_to_dl1 output of the batch instead of making its own."""
    template = demo_data.make_dl1_template(r0_batch.output_dir / "dl1")
    assert template == r0_batch.output_dir / "dl1" / dl1_name(GOOD_GAMMA)
    return template


@pytest.fixture(scope="session")
def dl1ab_batch(run_job: RunJob, r0_batch: BatchRun, chain_dir: Path) -> BatchRun:
    out = chain_dir / "dl1ab" / "dl1ab"
    tool = lstchain_tool("lstchain_dl1ab")
    tasks = []
    for name in (GOOD_GAMMA, GOOD_PROTON):
        source = r0_batch.output_dir / "dl1" / dl1_name(name)
        target = out / dl1_name(name)
        tasks.append(
            FileTask((tool, "--no-image", "-f", str(source), "-o", str(target)), str(target))
        )
    return run_batch(run_job, chain_dir / "dl1ab", tasks, expect=0)


@pytest.fixture(scope="session")
def synthetic_sets(dl1_template: Path, chain_dir: Path) -> dict[str, Path]:
    return demo_data.build_synthetic_sets(dl1_template, chain_dir / "synthetic")


def test_r0_batch_processes_good_files_despite_a_failing_one(r0_batch: BatchRun) -> None:
    dl1 = r0_batch.output_dir / "dl1"
    assert n_rows(dl1 / dl1_name(GOOD_GAMMA), DL1_PARAMETERS) == 1
    assert n_rows(dl1 / dl1_name(GOOD_PROTON), DL1_PARAMETERS) == 2
    assert not (dl1 / dl1_name(FAILING)).exists()


def test_failing_file_is_tried_twice_with_logs_and_partial_outputs_kept(r0_batch: BatchRun) -> None:
    log = r0_batch.log_dir / f"{dl1_name(FAILING)}.log"
    text = log.read_text()
    assert "=== try 1/2" in text and "=== try 2/2" in text
    assert text.count("No object named /dl1/event/telescope/parameters/LST_LSTCam") == 2
    moved = sorted(r0_batch.failed_dir.iterdir())
    assert len(moved) == 2
    assert all(p.name.startswith(dl1_name(FAILING)) for p in moved)
    assert {p.name.rsplit(".", 1)[1] for p in moved} == {"try1", "try2"}
    summary = r0_batch.result.stderr
    assert "3 files, 2 done, 0 skipped (output exists), 1 failed" in summary
    assert f"log: {log}" in summary
    assert all(str(p) in summary for p in moved)
    good_log = (r0_batch.log_dir / f"{dl1_name(GOOD_GAMMA)}.log").read_text()
    assert "=== try 2/2" not in good_log and "exit code 0" in good_log


def test_dl1ab_runs_through_the_batch_runner(dl1ab_batch: BatchRun) -> None:
    out = dl1ab_batch.output_dir / "dl1ab"
    assert n_rows(out / dl1_name(GOOD_GAMMA), DL1_PARAMETERS) == 1
    assert n_rows(out / dl1_name(GOOD_PROTON), DL1_PARAMETERS) == 2
    assert "2 done" in dl1ab_batch.result.stdout


def test_synthetic_dl1_keeps_the_template_instrument_and_is_deterministic(
    run_job: RunJob, synthetic_sets: dict[str, Path], dl1_template: Path, chain_dir: Path
) -> None:
    gamma = synthetic_sets["gamma_test"] / synthetic_dl1.output_name("gamma", 301)
    again = chain_dir / "synthetic_again"
    run_job(
        python_module(
            "lstflow_dev.jobs.synthetic_dl1",
            "--template",
            dl1_template,
            "--particle",
            "gamma",
            "--runs",
            301,
            "--n-showers",
            30_000,
            "-o",
            again,
        )
    )
    with tables.open_file(gamma) as first, tables.open_file(again / gamma.name) as second:
        rows = first.get_node(DL1_PARAMETERS).read()
        assert rows.tobytes() == second.get_node(DL1_PARAMETERS).read().tobytes()
        assert len(rows) > 1000
        assert set(rows["obs_id"]) == {301}
        assert "/dl1/event/telescope/image" not in first
        run_config = first.get_node("/simulation/run_config").read()
        assert run_config["n_showers"][0] == 30_000
        assert run_config["min_viewcone_radius"][0] == pytest.approx(0.4)
        with tables.open_file(dl1_template) as template:
            layout = "/configuration/instrument/subarray/layout"
            assert np.array_equal(first.get_node(layout).read(), template.get_node(layout).read())
            param_attrs = template.get_node(DL1_PARAMETERS).attrs
            assert (
                first.get_node(DL1_PARAMETERS).attrs["CTAFIELD_4_UNIT"]
                == param_attrs["CTAFIELD_4_UNIT"]
            )


def test_train_test_split_is_idempotent(
    run_job: RunJob, synthetic_sets: dict[str, Path], chain_dir: Path
) -> None:
    source = chain_dir / "split" / "dl1"
    source.mkdir(parents=True)
    for name in ("gamma_diffuse_train", "proton_train"):
        for path in synthetic_sets[name].glob("*.h5"):
            shutil.copy(path, source / path.name)
    train, test = chain_dir / "split" / "train", chain_dir / "split" / "test"
    argv = python_module(
        "lstflow.jobs.train_test_split", "-i", source, "--otrain", train, "--otest", test, "-r", 0.5
    )
    first = run_job(argv)
    assert first.stdout.strip().endswith("2 train, 2 test, 4 moved now")
    placed = sorted(p.name for p in train.iterdir()), sorted(p.name for p in test.iterdir())
    second = run_job(argv)
    assert second.stdout.strip().endswith("2 train, 2 test, 0 moved now")
    assert (
        sorted(p.name for p in train.iterdir()),
        sorted(p.name for p in test.iterdir()),
    ) == placed
    listed = (chain_dir / "split" / "testing.list").read_text().split()
    assert listed == [str(test / name) for name in placed[1]]
