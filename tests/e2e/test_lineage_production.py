"""Lineage-aware productions (issue #18, docs/lineage.md) on the local Slurm cluster through real
Airflow (``dag.test()`` on PostgreSQL), with stub payloads that write what their tool would.

Two declinations, A and B, share the test merges; dec B's training lasts until dec A's IRF file
exists (or gives up after TRAIN_B_MAX_S, and the test fails). Every stage is submitted at the
start with Slurm dependencies, so dec A's IRFs exist while dec B's training still runs (a fixed
sleep made that a race with the machine's load). When dec B's training fails, dec A's chain
still succeeds, dec B's dependants never run (Slurm cancels them) and nothing of the run is left
in the queue. Clearing dec A's training (its map index, with downstream, under real Airflow
processes) reruns dec A's chain only.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import pytest
from support.airflow_stack import AirflowStack
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
from lstflow.slurm.reports import FAILURE_XCOM_KEY, SlurmReport
from lstflow_dev import localcluster

pytestmark = pytest.mark.e2e

CHECKOUT = Path(__file__).resolve().parents[2]
SMALL = {"partition": "short", "mem": "100M", "time": "00:10:00", "cpus-per-task": "1"}
TRAIN_B_MAX_S = 240
DECS = ("decA", "decB")


#: What dec B's training does: wait for dec A's IRF file, fail every attempt, or fail its first.
TrainB = Literal["waits", "fails", "fails_once"]


def stub_body(ledger: Path, irf_a: Path, train: TrainB) -> str:
    """Each tool writes its -o/--otrain/--otest targets (dl1_to_dl2: one DL2 file per -f input)
    and logs ``<tool> <output> <start> <end>`` (a failed attempt logs nothing); dec B's training
    does what ``train`` says."""
    first_attempt = ledger.with_name("train_b_attempted")
    train_b = {
        "waits": (
            f"for _ in $(seq {TRAIN_B_MAX_S}); do [ -e {irf_a} ] && break; sleep 1; done; sleep 2"
        ),
        "fails": "exit 1",
        "fails_once": f"[ -e {first_attempt} ] || {{ touch {first_attempt}; exit 1; }}",
    }[train]
    return (
        OUTSIDE_A_JOB_EXITS + "start=$(date +%s.%N)\n"
        'case "$(basename "$0") $*" in\n'
        f"  lstchain_mc_trainpipe*models_decB*) {train_b} ;;\n"
        "esac\n"
        + OUTPUT_WRITING_LINES
        + f'echo "$(basename "$0") ${{out:--}} $start $(date +%s.%N)" >> {ledger}\n'
    )


@dataclass(frozen=True)
class LedgerRow:
    """One payload run, as ``stub_body``'s stubs log it: ``<tool> <output> <start> <end>``."""

    key: str  # "<tool> <output>"
    start: float
    end: float


def ledger_rows(workdir: Path) -> list[LedgerRow]:
    """Every payload run of the production under ``workdir``, in the order they ended."""
    rows = [row.split() for row in (workdir / "ledger").read_text().splitlines()]
    return [
        LedgerRow(f"{tool} {output}", float(start), float(end)) for tool, output, start, end in rows
    ]


def write_production(workdir: Path, prod_id: str, train_b: TrainB) -> Path:
    """The library directory of a two-declination production under ``workdir``."""
    data = workdir / "data"
    for name in ("gamma_train", "proton_train", "gamma_test", "proton_test"):
        for dec in DECS:
            directory = workdir / "DL1" / dec / name
            directory.mkdir(parents=True)
            (directory / f"dl1_{name}_run1.h5").touch()
    env_file = write_stub_env(
        workdir,
        stub_names(),
        stub_body(workdir / "ledger", data / "IRF_decA" / "irf.fits.gz", train_b),
    )

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
        return {row.key: (row.start, row.end) for row in ledger_rows(self.workdir)}

    def group_names(self) -> list[str]:
        """Map index i of the ``lineage`` group is the i-th group name the feeder returned (the
        XCom the group expands on)."""
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            (groups,) = session.query(XComModel).filter_by(
                dag_id=self.dag_id, run_id=self.run_id, task_id=FEEDER_TASK_ID, key="return_value"
            )
            return list(XComModel.deserialize_value(groups))

    def states(self) -> dict[tuple[str, str], str]:
        """(task id, lineage group) -> state."""
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(TaskInstance).filter_by(dag_id=self.dag_id, run_id=self.run_id)
            found = [(r.task_id, r.map_index, r.rendered_map_index, str(r.state)) for r in rows]
        names = dict(enumerate(self.group_names()))
        for _, index, rendered, state in found:
            # The grid labels a watcher that started with its group's name, failed ones too
            # (one that never started shows its index: docs/lineage.md, "simplified").
            if index >= 0 and state in ("success", "failed"):
                assert rendered == names[index], (index, rendered, state)
        return {(task, names.get(index, "")): state for task, index, _, state in found}

    def failure_notes(self, stage: str, group: str) -> set[str]:
        """The notes of the failed elements in ``stage``'s report for ``group``."""
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        index = self.group_names().index(group)
        with create_session() as session:
            (row,) = session.query(XComModel).filter_by(
                dag_id=self.dag_id,
                run_id=self.run_id,
                task_id=f"lineage.{stage}",
                map_index=index,
                key=FAILURE_XCOM_KEY,
            )
            report = SlurmReport.from_json(XComModel.deserialize_value(row))
        return {failed.note for failed in report.failed}


def run_lineage_production(
    workdir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    train_b: TrainB,
    max_pending_jobs: int = 0,
    lineage_nice_step: int = 100,
) -> Ran:
    prod_id = f"e2e_lineage_{uuid.uuid4().hex[:8]}"
    library = write_production(workdir, prod_id, train_b)
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
    monkeypatch.setenv("AIRFLOW__LSTFLOW__LINEAGE_NICE_STEP", str(lineage_nice_step))
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
    # Slurm's own order (submission order, no lineage priority), so dec B's training starts
    # before dec A's later stages: with the default, dec A's whole chain goes first on the two
    # shared slots, and "while dec B trains" would not be what is measured.
    ran = run_lineage_production(
        workdir, tmp_path, monkeypatch, train_b="waits", lineage_nice_step=0
    )
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
    ran = run_lineage_production(workdir, tmp_path, monkeypatch, train_b="fails")
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
    # Dec B's later watchers were waiting with it; they end failed, their elements not run.
    for stage in ("dl1_to_dl2", "dl2_to_irfs"):
        assert lineage_states(ran, stage)[b_group] == "failed"
        (note,) = ran.failure_notes(stage, b_group)
        assert note.startswith("not run: its upstream did not succeed"), note
    assert "train_pipe [" in ran.failure_notes("dl1_to_dl2", b_group).pop()
    assert queued(f"lstflow.{ran.dag_id}.") == []


def test_a_retried_dec_b_training_reruns_the_dependants_slurm_cancelled(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path
) -> None:
    """Dec B's training fails once: Slurm cancels its DL2 and IRF elements at once; their
    watchers, already waiting, rerun them only after the retried training succeeded."""
    ran = run_lineage_production(workdir, tmp_path, monkeypatch, train_b="fails_once")
    assert ran.state == "success", ran.states()
    data = workdir / "data"
    for dec in DECS:
        assert (data / f"IRF_{dec}" / "irf.fits.gz").exists()
    ledger = ran.ledger()
    trained_b = ledger[f"lstchain_mc_trainpipe {data}/models_decB"][1]
    dl2_b = [
        (row.start, row.end)
        for row in ledger_rows(workdir)
        if row.key == f"lstchain_dl1_to_dl2 {data}/DL2_decB"
    ]
    assert dl2_b and min(start for start, _ in dl2_b) > trained_b, (dl2_b, trained_b)
    irf_b_start = ledger[f"lstchain_create_irf_files {data}/IRF_decB/irf.fits.gz"][0]
    assert irf_b_start > max(end for _, end in dl2_b)
    assert set(lineage_states(ran, "dl2_to_irfs").values()) == {"success"}
    # The reruns went in under the watchers' own names, once each; nothing is left queued.
    counts = count_jobs_by_tag(SlurmHook(), f"lstflow.{ran.dag_id}.")
    assert counts and set(counts.values()) == {1}, counts
    assert any(".lineage.dl1_to_dl2." in name for name in counts), sorted(counts)
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
    ran = run_lineage_production(
        workdir, tmp_path, monkeypatch, train_b="waits", max_pending_jobs=2
    )
    assert ran.state == "success", ran.states()
    assert (workdir / "data" / "IRF_decA" / "irf.fits.gz").exists()
    jobs = submitted_and_ended(f"lstflow.{ran.dag_id}.")
    first_end = min(end for _, _, end in jobs if end is not None)
    late = {name.split(".")[2] for name, submit, _ in jobs if submit >= first_end}
    # The feeder waited for room: the last stages went in after the first elements ended.
    assert "dl2_to_irfs" in late, sorted(late)
    # It wrote every job script once, before its first sbatch, not again at each wait
    # (sacct's times are whole seconds: the first submission's second, not its instant).
    scripts = list((workdir / "prod_logs").rglob("*.sbatch"))
    first_submit = min(submit for _, submit, _ in jobs).timestamp()
    assert scripts and max(path.stat().st_mtime for path in scripts) < first_submit + 1
    counts = count_jobs_by_tag(SlurmHook(), f"lstflow.{ran.dag_id}.")
    assert counts and set(counts.values()) == {1}, counts  # waiting never submitted twice
    assert queued(f"lstflow.{ran.dag_id}.") == []


# ---- clearing one lineage, under real Airflow processes -------------------------------------

#: dag.test() makes a new run each time: a clear needs a scheduler that reruns the same run.
RERUN_STAGES = ("train_pipe", "plot_rf_feat", "dl1_to_dl2", "dl2_to_irfs")


@dataclass
class StackRun:
    """One lineage run of the production's DAG under an ``AirflowStack`` with the REST API."""

    stack: AirflowStack
    dag_id: str
    run_id: str

    def state(self) -> str | None:
        rows = self.stack.query(
            "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s",
            (self.dag_id, self.run_id),
        )
        return str(rows[0][0]) if rows else None

    def wait_ended(self) -> str:
        return self.stack.wait(
            lambda: self.state() if self.state() in ("success", "failed") else None,
            900,
            f"{self.run_id} to end",
        )

    def return_values(self) -> dict[tuple[str, int], object]:
        rows = self.stack.query(
            "SELECT task_id, map_index, value FROM xcom WHERE dag_id = %s AND run_id = %s "
            "AND key = 'return_value'",
            (self.dag_id, self.run_id),
        )
        return {
            (task, index): json.loads(value) if isinstance(value, str) else value
            for task, index, value in rows
        }

    def reports(self) -> dict[tuple[str, str], SlurmReport]:
        """(stage, lineage group) -> its watcher's report."""
        values = self.return_values()
        groups = values[(FEEDER_TASK_ID, -1)]
        assert isinstance(groups, list)
        return {
            (task.removeprefix("lineage."), groups[index]): SlurmReport.from_json(value)
            for (task, index), value in values.items()
            if task.startswith("lineage.") and isinstance(value, dict)
        }

    def tries(self) -> dict[tuple[str, int], int]:
        rows = self.stack.query(
            "SELECT task_id, map_index, try_number FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s",
            (self.dag_id, self.run_id),
        )
        return {(task, index): number for task, index, number in rows}

    def clear(self, task_id: str, map_index: int) -> set[tuple[str, int]]:
        """The UI's "Clear" of one mapped task instance with downstream; what it cleared."""
        answer = self.stack.rest(
            f"/api/v2/dags/{self.dag_id}/clearTaskInstances",
            {
                "dry_run": False,
                "dag_run_id": self.run_id,
                "task_ids": [[task_id, map_index]],
                "include_downstream": True,
                "only_failed": False,
            },
        )
        cleared = answer["task_instances"]
        assert isinstance(cleared, list)
        return {(ti["task_id"], ti["map_index"]) for ti in cleared}


@pytest.fixture
def stack_run(workdir: Path, tmp_path: Path) -> Iterator[StackRun]:
    """The two-declination production run once by a real scheduler, with overwrite='overwrite'
    (a rerun moves its existing outputs aside)."""
    prod_id = f"e2e_lineage_clear_{uuid.uuid4().hex[:8]}"
    library = write_production(workdir, prod_id, train_b="waits")
    (workdir / "prod_logs").mkdir()
    user = localcluster.cluster_env()["SLURM_SSH_USER"]
    subprocess.run(["chown", "-R", f"{user}:{user}", str(workdir)], check=True)
    home = tmp_path / "airflow"
    settings = {
        "AIRFLOW__LSTFLOW__LINEAGE_RUNS": "True",
        "AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS": str(library),
        "AIRFLOW__LSTFLOW__PARSE_CACHE_DIR": str(home / "parse-cache"),
        "AIRFLOW__LSTFLOW__LOG_ROOT": str(workdir / "prod_logs"),
        "AIRFLOW__LSTFLOW__POLL_INTERVAL": "1",
        "AIRFLOW__LSTFLOW__MAX_POLL_INTERVAL": "3",
    }
    stack = AirflowStack.create(home, home / "dags", settings)
    stack.api_apps = "all"  # the REST API's clearTaskInstances, as the UI calls it
    stack.link_production_dags()
    try:
        stack.start()
        dag_id = dag_id_for(prod_id)
        stack.wait_for_dag(dag_id)
        run_id = "lineage_clear"
        conf = json.dumps({"overwrite": "overwrite"})
        stack.airflow("dags", "trigger", dag_id, "--run-id", run_id, "--conf", conf)
        run = StackRun(stack, dag_id, run_id)
        assert run.wait_ended() == "success", run.tries()
        yield run
    finally:
        stack.close()


def ledger_counts(workdir: Path) -> dict[str, int]:
    """How many payloads wrote each ``<tool> <output>``."""
    return dict(Counter(row.key for row in ledger_rows(workdir)))


def test_clearing_dec_a_training_reruns_dec_a_only(workdir: Path, stack_run: StackRun) -> None:
    run, data = stack_run, workdir / "data"
    prefix = f"lstflow.{run.dag_id}."
    hook = SlurmHook()
    jobs_before = hook.find_jobs(list(count_jobs_by_tag(hook, prefix)))
    reports_before, tries_before = run.reports(), run.tries()
    ledger_before = ledger_counts(workdir)
    irf_b = (data / "IRF_decB" / "irf.fits.gz").stat().st_mtime
    groups = run.return_values()[(FEEDER_TASK_ID, -1)]
    assert isinstance(groups, list)
    a_index = next(i for i, group in enumerate(groups) if "decA" in group)
    a_group = groups[a_index]
    cleared_at = time.time()

    cleared = run.clear("lineage.train_pipe", a_index)
    assert {(f"lineage.{stage}", a_index) for stage in RERUN_STAGES} <= cleared, cleared
    assert {task for task, index in cleared if index >= 0} == {
        f"lineage.{stage}" for stage in RERUN_STAGES
    }
    assert {index for _, index in cleared if index >= 0} == {a_index}
    assert run.wait_ended() == "success", run.tries()

    # The feeder did not run again; its jobs are the same.
    assert run.tries()[(FEEDER_TASK_ID, -1)] == tries_before[(FEEDER_TASK_ID, -1)]
    jobs_after = hook.find_jobs(list(count_jobs_by_tag(hook, prefix)))
    new = {name: ids for name, ids in jobs_after.items() if name not in jobs_before}
    assert {name: ids for name, ids in jobs_after.items() if name in jobs_before} == jobs_before
    # Dec A's watchers submitted new jobs under their own names, once each; dec B's none.
    reports = run.reports()
    assert {name.removeprefix(prefix).split(".")[1] for name in new} == set(RERUN_STAGES), new
    assert all(name.startswith(f"{prefix}lineage.") and len(ids) == 1 for name, ids in new.items())
    new_ids = {job for ids in new.values() for job in ids}
    a_ids = {job for stage in RERUN_STAGES for job in reports[(stage, a_group)].job_ids}
    assert a_ids == new_ids
    for key, report in reports.items():
        if key[1] != a_group or key[0] not in RERUN_STAGES:
            assert report == reports_before[key], key
    assert reports[("dl2_to_irfs", a_group)].completed == 1
    # Dec A's outputs were moved aside and written again; dec B's were not touched.
    ledger = ledger_counts(workdir)
    rerun = {key for key, count in ledger.items() if count > ledger_before.get(key, 0)}
    assert rerun >= {
        f"lstchain_mc_trainpipe {data}/models_decA",
        f"lstchain_dl1_to_dl2 {data}/DL2_decA",
        f"lstchain_create_irf_files {data}/IRF_decA/irf.fits.gz",
    }, rerun
    assert not [key for key in rerun if "decB" in key or "merge" in key], rerun
    assert (data / "IRF_decA" / "irf.fits.gz").stat().st_mtime > cleared_at
    assert list((data / "IRF_decA").glob("irf.fits.gz.replaced-*"))
    assert (data / "IRF_decB" / "irf.fits.gz").stat().st_mtime == irf_b
    assert not list((data / "IRF_decB").glob("*.replaced-*"))
