"""Lineage-aware productions (issue #18, docs/lineage.md) on the local Slurm cluster through real
Airflow (``dag.test()`` on PostgreSQL), with stub payloads that write what their tool would.

Two declinations, A and B, share the test merges; dec B's training sleeps longer. Every stage
is submitted at the start with Slurm dependencies, so dec A's IRFs exist while dec B's training
still runs. When dec B's training fails, dec A's chain still succeeds, dec B's dependants never
run (Slurm cancels them) and nothing of the run is left in the queue.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from support.operator_dags import run_production_dag
from support.slurm_counts import count_jobs_by_tag
from support.stub_env import (
    OUTPUT_WRITING_LINES,
    OUTSIDE_A_JOB_EXITS,
    stub_names,
    write_stub_env,
    write_stub_production,
)

from lstflow.productions.lineage_operators import FEEDER_TASK_ID
from lstflow.productions.naming import dag_id_for
from lstflow.slurm.hook import SlurmHook
from lstflow_dev import localcluster

pytestmark = pytest.mark.e2e

CHECKOUT = Path(__file__).resolve().parents[2]
SMALL = {"partition": "short", "mem": "100M", "time": "00:10:00", "cpus-per-task": "1"}
TRAIN_B_S = 40
DECS = ("decA", "decB")


def stub_body(ledger: Path, fail_b: bool) -> str:
    """Each tool writes its -o/--otrain/--otest targets (dl1_to_dl2: one DL2 file per -f input)
    and logs ``<tool> <output> <start> <end>``; dec B's training sleeps, or fails."""
    train_b = "exit 1" if fail_b else f"sleep {TRAIN_B_S}"
    return (
        OUTSIDE_A_JOB_EXITS + "start=$(date +%s.%N)\n"
        'case "$(basename "$0") $*" in\n'
        f"  lstchain_mc_trainpipe*models_decB*) {train_b} ;;\n"
        "esac\n"
        + OUTPUT_WRITING_LINES
        + f'echo "$(basename "$0") ${{out:--}} $start $(date +%s.%N)" >> {ledger}\n'
    )


def write_production(workdir: Path, prod_id: str, fail_b: bool) -> Path:
    """The library directory of a two-declination production under ``workdir``."""
    data = workdir / "data"
    for name in ("gamma_train", "proton_train", "gamma_test", "proton_test"):
        for dec in DECS:
            directory = workdir / "DL1" / dec / name
            directory.mkdir(parents=True)
            (directory / f"dl1_{name}_run1.h5").touch()
    env_file = write_stub_env(workdir, stub_names(), stub_body(workdir / "ledger", fail_b))

    def entry(**fields: object) -> dict[str, object]:
        return {**fields, "extra_slurm_options": SMALL}

    merges = [
        entry(input=str(workdir / "DL1" / dec / f"{p}_train"), output=str(data / f"{p}_{dec}.h5"))
        for dec in DECS
        for p in ("gamma", "proton")
    ] + [
        entry(
            input=str(workdir / "DL1" / "decA" / f"{p}_test"),
            output=str(data / f"dl1_{p}_test.h5"),
        )
        for p in ("gamma", "proton")
    ]
    stages = {
        "merge_dl1": merges,
        "train_pipe": [
            entry(
                input={
                    "gamma": str(data / f"gamma_{dec}.h5"),
                    "proton": str(data / f"proton_{dec}.h5"),
                },
                output=str(data / f"models_{dec}"),
            )
            for dec in DECS
        ],
        "dl1_to_dl2": [
            entry(
                input=str(data / f"dl1_{p}_test.h5"),
                output=str(data / f"DL2_{dec}"),
                path_model=str(data / f"models_{dec}"),
            )
            for dec in DECS
            for p in ("gamma", "proton")
        ],
        "dl2_to_irfs": [
            entry(
                input={
                    "gamma_file": str(data / f"DL2_{dec}" / "dl2_gamma_test.h5"),
                    "proton_file": str(data / f"DL2_{dec}" / "dl2_proton_test.h5"),
                    "electron_file": None,
                },
                output=str(data / f"IRF_{dec}" / "irf.fits.gz"),
                options="--point-like",
            )
            for dec in DECS
        ],
    }
    return write_stub_production(workdir / "library", prod_id, env_file, stages).parent


@dataclass(frozen=True)
class Ran:
    prod_id: str
    workdir: Path
    state: str
    run_id: str

    @property
    def dag_id(self) -> str:
        return dag_id_for(self.prod_id)

    def ledger(self) -> dict[str, tuple[float, float]]:
        """``<tool> <output>``: (start, end) epoch seconds of the payload that wrote it."""
        rows = (self.workdir / "ledger").read_text().splitlines()
        return {
            " ".join(row.split()[:2]): (float(row.split()[2]), float(row.split()[3]))
            for row in rows
        }

    def states(self) -> dict[tuple[str, str], str]:
        """(task id, lineage group) -> state. Map index i of the ``lineage`` group is the i-th
        group name the feeder returned (the XCom the group expands on)."""
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(TaskInstance).filter_by(dag_id=self.dag_id, run_id=self.run_id)
            found = [(r.task_id, r.map_index, r.rendered_map_index, str(r.state)) for r in rows]
            (groups,) = session.query(XComModel).filter_by(
                dag_id=self.dag_id, run_id=self.run_id, task_id=FEEDER_TASK_ID, key="return_value"
            )
            names = dict(enumerate(XComModel.deserialize_value(groups)))
        for _, index, rendered, state in found:
            # The grid labels a watcher that succeeded with its group's name (a failed one may
            # show its index: docs/lineage.md, "simplified").
            assert index < 0 or state != "success" or rendered == names[index], (index, rendered)
        return {(task, names.get(index, "")): state for task, index, _, state in found}


def run_lineage_production(
    workdir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    fail_b: bool,
    max_pending_jobs: int = 0,
) -> Ran:
    prod_id = f"e2e_lineage_{uuid.uuid4().hex[:8]}"
    library = write_production(workdir, prod_id, fail_b)
    (workdir / "prod_logs").mkdir()
    user = localcluster.cluster_env()["SLURM_SSH_USER"]
    subprocess.run(["chown", "-R", f"{user}:{user}", str(workdir)], check=True)
    monkeypatch.setenv("AIRFLOW__LSTFLOW__LINEAGE_RUNS", "True")
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(library))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PARSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__LOG_ROOT", str(workdir / "prod_logs"))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__POLL_INTERVAL", "1")
    monkeypatch.setenv("AIRFLOW__LSTFLOW__MAX_POLL_INTERVAL", "3")
    monkeypatch.setenv("AIRFLOW__LSTFLOW__MAX_PENDING_JOBS", str(max_pending_jobs))
    state, run_id = run_production_dag(CHECKOUT / "dags", prod_id, {})
    return Ran(prod_id, workdir, state, run_id)


@pytest.fixture
def workdir(
    slurm_cluster: localcluster.ClusterInfo, request: pytest.FixtureRequest
) -> Iterator[Path]:
    path = localcluster.make_workdir(request.node.name)
    yield path
    localcluster.remove_workdir(path)


def queued(prefix: str) -> list[str]:
    """The run's jobs still in squeue (pending or running)."""
    rows = SlurmHook().check(["squeue", "-h", "-r", "-o", "%i %j"]).stdout.splitlines()
    return [row for row in rows if row.split()[1].startswith(prefix)]


def lineage_states(ran: Ran, stage: str) -> dict[str, str]:
    """Per lineage group (its rendered map index), the state of ``stage``'s watcher."""
    return {m: s for (t, m), s in ran.states().items() if t == f"lineage.{stage}"}


def test_dec_a_irfs_exist_while_dec_b_still_trains(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path
) -> None:
    ran = run_lineage_production(workdir, tmp_path, monkeypatch, fail_b=False)
    assert ran.state == "success", ran.states()
    data = workdir / "data"
    ledger = ran.ledger()
    irf_a_written = ledger[f"lstchain_create_irf_files {data}/IRF_decA/irf.fits.gz"][1]
    train_b = ledger[f"lstchain_mc_trainpipe {data}/models_decB"]
    assert train_b[0] < irf_a_written < train_b[1], (irf_a_written, train_b)
    for dec in DECS:
        assert (data / f"IRF_{dec}" / "irf.fits.gz").exists()
    # The grid names each group's watchers by its lineage group, in stage order.
    groups = lineage_states(ran, "dl2_to_irfs")
    assert len([g for g in groups if "decA" in g]) == 1, groups
    assert set(groups.values()) == {"success"}
    # The run's provenance sums each stage's lineage groups.
    (provenance,) = (workdir / "prod_logs").rglob("provenance.json")
    stages = json.loads(provenance.read_text())["stages"]
    assert (stages["train_pipe"]["total"], stages["train_pipe"]["completed"]) == (2, 2)
    # Nothing submitted twice: one job per planned submission name.
    counts = count_jobs_by_tag(SlurmHook(), f"lstflow.{ran.dag_id}.")
    assert counts and set(counts.values()) == {1}, counts


def test_failed_dec_b_training_stops_only_dec_b(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path
) -> None:
    ran = run_lineage_production(workdir, tmp_path, monkeypatch, fail_b=True)
    assert ran.state == "failed"
    data = workdir / "data"
    assert (data / "IRF_decA" / "irf.fits.gz").exists()
    # Output directories are made at planning; dec B's DL2 and IRF files never were.
    assert not list((data / "DL2_decB").iterdir())
    assert not list((data / "IRF_decB").iterdir())
    tools = {key.split()[0] for key in ran.ledger() if "decB" in key}
    assert tools <= {"lstchain_merge_hdf5_files"}, tools
    train = lineage_states(ran, "train_pipe")
    a_group = next(g for g in train if "decA" in g)
    b_group = next(g for g in train if "decB" in g)
    for stage in ("train_pipe", "dl1_to_dl2", "dl2_to_irfs"):
        assert lineage_states(ran, stage)[a_group] == "success", ran.states()
    assert train[b_group] == "failed"
    for stage in ("dl1_to_dl2", "dl2_to_irfs"):
        assert lineage_states(ran, stage)[b_group] == "upstream_failed"
    assert queued(f"lstflow.{ran.dag_id}.") == []


def submitted_and_ended(prefix: str) -> list[tuple[str, datetime, datetime | None]]:
    """(job name, submit time, end time) of every element whose job name starts with
    ``prefix``, from accounting."""
    argv = ["sacct", "-n", "-P", "-X", "-S", "now-3hours", "-o", "JobName,Submit,End"]
    rows = [row.split("|") for row in SlurmHook().check(argv).stdout.splitlines()]
    return [
        (name, datetime.fromisoformat(submit), _moment(end))
        for name, submit, end in rows
        if name.startswith(prefix)
    ]


def _moment(text: str) -> datetime | None:
    return None if text in ("Unknown", "None", "") else datetime.fromisoformat(text)


def test_a_pending_jobs_cap_holds_later_stages_back_until_the_queue_drains(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path
) -> None:
    ran = run_lineage_production(workdir, tmp_path, monkeypatch, fail_b=False, max_pending_jobs=2)
    assert ran.state == "success", ran.states()
    assert (workdir / "data" / "IRF_decA" / "irf.fits.gz").exists()
    jobs = submitted_and_ended(f"lstflow.{ran.dag_id}.")
    first_end = min(end for _, _, end in jobs if end is not None)
    late = {name.split(".")[2] for name, submit, _ in jobs if submit >= first_end}
    # The feeder waited for room: the last stages went in after the first elements ended.
    assert "dl2_to_irfs" in late, sorted(late)
    counts = count_jobs_by_tag(SlurmHook(), f"lstflow.{ran.dag_id}.")
    assert counts and set(counts.values()) == {1}, counts  # waiting never submitted twice
    assert queued(f"lstflow.{ran.dag_id}.") == []
