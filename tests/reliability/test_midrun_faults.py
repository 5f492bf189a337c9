"""Faults while a production runs: a real ``mc_<prod_id>`` DAG (the factory's, from a production
config) under real Airflow processes, on a Slurm cluster of its own that the faults may break.

One production of six stages (r0_to_dl1 → train_test_split → merge_dl1 → train_pipe →
dl1_to_dl2 → dl2_to_irfs, plus plot_rf_feat) whose payloads are stubs that sleep a few seconds
and then write a ledger line. While one stage's array runs, one fault is injected: kill -9 of the
scheduler, restarts of slurmctld and slurmd, slurmdbd stopped for 60 s (so sacct fails while the
next stages submit), a restart of sshd that also drops its open connections, kill -9 of the
triggerer. Each fault's outcome is then checked on its own: the production finished, every
submission (one job name each) was sbatch'ed once, every planned element ran to its end.

Daemon restarts must never hit the machine-wide cluster that other test runs share: everything
here runs on an isolated cluster (own root and ports, accounting on), brought up for the module.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fault_table import record_fault
from support.airflow_stack import FINISHED_TI_STATES, AirflowStack, all_in, wait_until
from support.isolated_cluster import isolated_cluster
from support.slurm_counts import count_jobs_by_tag
from support.stub_env import (
    output_writing_body,
    stub_names,
    write_stub_env,
    write_stub_production,
)

from lstflow.productions.naming import dag_id_for
from lstflow.run_label import run_label
from lstflow.slurm.hook import SlurmHook
from lstflow_dev import localcluster

pytestmark = pytest.mark.reliability

CHECKOUT = Path(__file__).resolve().parents[2]
CONN_ID = "lstflow_faults"
PAYLOAD_S = 10
POLL_S = 2
DBD_OUTAGE_S = 60
RUN_ID = "faults"
RUN_TIMEOUT_S = 900
SMALL = {"partition": "short", "mem": "100M", "time": "00:10:00", "cpus-per-task": "1"}


@dataclass(frozen=True)
class Fault:
    """One fault: injected while ``stage``'s elements run; recovered when ``recovered_task``
    reaches one of ``recovered_states``."""

    key: str
    name: str
    stage: str
    recovered_task: str
    recovered_states: frozenset[str] = frozenset({"success"})


FAULTS = (
    Fault("scheduler", "kill -9 of the scheduler (then restarted)", "r0_to_dl1", "r0_to_dl1"),
    Fault("slurmctld", "restart of slurmctld", "train_test_split", "train_test_split"),
    Fault("slurmd", "restart of slurmd", "merge_dl1", "merge_dl1"),
    # sacct is needed by the next stages' exactly-once check before they sbatch.
    Fault(
        "slurmdbd",
        f"slurmdbd stopped {DBD_OUTAGE_S} s (sacct fails), then started",
        "train_pipe",
        "dl1_to_dl2",
        frozenset({"deferred", "success"}),
    ),
    Fault("sshd", "restart of sshd, open connections dropped", "dl1_to_dl2", "dl1_to_dl2"),
    Fault("triggerer", "kill -9 of the triggerer (then restarted)", "dl2_to_irfs", "dl2_to_irfs"),
)


@dataclass
class Outcome:
    seconds: float
    finished: bool
    duplicates: int
    lost_items: int
    failed_tries: list[str]
    detail: str

    @property
    def classification(self) -> str:
        retried = ", ".join(self.failed_tries) or "none"
        ended = "success" if self.finished else "FAILED"
        return f"run ended {ended}; task tries failed and retried while recovering: {retried}"


# ---- the isolated cluster, the production and the Airflow stack ------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[localcluster.ClusterInfo]:
    """A cluster of our own with accounting (sacct); its connection is ``lstflow_faults``."""
    variable = f"AIRFLOW_CONN_{CONN_ID.upper()}"
    with isolated_cluster(accounting="slurmdbd"):
        info = localcluster.up()
        os.environ[variable] = info.connection_json
        try:
            yield info
        finally:
            os.environ.pop(variable, None)


@pytest.fixture(scope="module")
def workdir(cluster: localcluster.ClusterInfo) -> Iterator[Path]:
    path = localcluster.make_workdir("midrun-faults")
    yield path
    localcluster.remove_workdir(path)


def write_production(workdir: Path, prod_id: str) -> Path:
    """The production's library directory; its data, stubs and ledger go under ``workdir``."""
    for particle in ("gamma", "proton"):
        dl0 = workdir / "DL0" / particle
        dl0.mkdir(parents=True)
        for run in (1, 2):
            (dl0 / f"{particle}_run{run}.simtel.zst").touch()
    ledger = workdir / "ledger"
    body = output_writing_body(ledger, PAYLOAD_S)
    env_file = write_stub_env(workdir, stub_names(), body)
    data = workdir / "data"

    def entry(**fields: object) -> dict[str, object]:
        return {**fields, "extra_slurm_options": SMALL}

    stages = {
        "r0_to_dl1": [
            entry(input=str(workdir / "DL0" / p), output=str(data / "DL1" / p))
            for p in ("gamma", "proton")
        ],
        "train_test_split": [
            entry(
                input=str(data / "DL1" / p),
                output={
                    "train": str(data / "DL1" / p / "train"),
                    "test": str(data / "DL1" / p / "test"),
                    "ratio": 0.5,
                },
            )
            for p in ("gamma", "proton")
        ],
        "merge_dl1": [
            entry(input=str(data / "DL1" / p / split), output=str(data / f"{p}_{split}.h5"))
            for p in ("gamma", "proton")
            for split in ("train", "test")
        ],
        "train_pipe": [
            entry(
                input={
                    "gamma": str(data / "gamma_train.h5"),
                    "proton": str(data / "proton_train.h5"),
                },
                output=str(data / "models"),
            )
        ],
        "dl1_to_dl2": [
            entry(
                input=str(data / f"{p}_test.h5"),
                output=str(data / "DL2"),
                path_model=str(data / "models"),
            )
            for p in ("gamma", "proton")
        ],
        "dl2_to_irfs": [
            entry(
                input={
                    "gamma_file": str(data / "DL2" / "gamma_test.h5"),
                    "proton_file": str(data / "DL2" / "proton_test.h5"),
                    "electron_file": None,
                },
                output=str(data / "IRF" / "irf.fits.gz"),
                options="--point-like",
            )
        ],
    }
    return write_stub_production(workdir / "library", prod_id, env_file, stages).parent


@dataclass
class Production:
    prod_id: str
    dag_id: str
    stack: AirflowStack
    log_root: Path
    ledger: Path


@pytest.fixture(scope="module")
def production(cluster: localcluster.ClusterInfo, workdir: Path) -> Iterator[Production]:
    """The production's DAG parsed by a running Airflow stack that talks to our cluster."""
    prod_id = f"faults_{uuid.uuid4().hex[:8]}"
    library = write_production(workdir, prod_id)
    log_root = workdir / "prod_logs"
    log_root.mkdir()
    for path in workdir.rglob("*"):  # the jobs write data, logs and the ledger
        shutil.chown(path, cluster.user, cluster.user)
    home = CHECKOUT / ".lstflow" / "airflow-faults"
    shutil.rmtree(home, ignore_errors=True)  # the previous run's logs stay until the next run
    settings = {
        f"AIRFLOW_CONN_{CONN_ID.upper()}": cluster.connection_json,
        "AIRFLOW__LSTFLOW__SSH_CONN_ID": CONN_ID,
        "AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS": str(library),
        "AIRFLOW__LSTFLOW__PARSE_CACHE_DIR": str(home / "parse-cache"),
        "AIRFLOW__LSTFLOW__LOG_ROOT": str(log_root),
        "AIRFLOW__LSTFLOW__POLL_INTERVAL": str(POLL_S),
        "AIRFLOW__LSTFLOW__MAX_POLL_INTERVAL": "4",
    }
    stack = AirflowStack.create(home, home / "dags", settings)
    (stack.dags_folder / "lstflow_productions.py").symlink_to(
        CHECKOUT / "dags" / "lstflow_productions.py"
    )
    try:
        stack.start()
        dag_id = dag_id_for(prod_id)
        stack.wait_for_dag(dag_id)
        yield Production(prod_id, dag_id, stack, log_root, workdir / "ledger")
    finally:
        stack.close()


# ---- fault injection -----------------------------------------------------------------------


def daemon_pid(name: str) -> int:
    pid = localcluster.status()["daemons"][name]
    assert pid is not None, f"{name} of the isolated cluster is not running"
    return int(pid)


def children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (sshd's per-connection processes)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def stop_daemon(name: str) -> None:
    """SIGTERM one daemon of the isolated cluster (by its PID) and wait until it is gone."""
    pid = daemon_pid(name)
    sessions = children(pid) if name == "sshd" else []
    os.kill(pid, signal.SIGTERM)
    if name == "sshd":  # a restart drops the connections it had accepted (the triggerer's)
        assert sessions, "no open SSH connection to drop"
    for session in sessions:
        os.kill(session, signal.SIGTERM)
    wait_until(lambda: localcluster.status()["daemons"][name] is None, 60, f"{name} to stop", 0.5)


def restart_daemon(name: str) -> None:
    """Stop one daemon, then ``up()``: it starts exactly the daemons that are not running."""
    stop_daemon(name)
    localcluster.up()


def slurmdbd_outage() -> None:
    stop_daemon("slurmdbd")
    failed = SlurmHook(CONN_ID).run(["sacct", "-X", "-n", "--starttime=now-1hour"])
    assert failed.exit_status != 0, "sacct must fail while slurmdbd is down"
    time.sleep(DBD_OUTAGE_S)
    localcluster.up()


def injector(fault: Fault, stack: AirflowStack) -> Callable[[], None]:
    return {
        "scheduler": lambda: stack.restart("scheduler"),
        "slurmctld": lambda: restart_daemon("slurmctld"),
        "slurmd": lambda: restart_daemon("slurmd"),
        "slurmdbd": slurmdbd_outage,
        "sshd": lambda: restart_daemon("sshd"),
        "triggerer": lambda: stack.restart("triggerer"),
    }[fault.key]


# ---- what Slurm and the payloads say -----------------------------------------------------


def running_jobs(prefix: str) -> bool:
    """Whether an element of a job named ``prefix...`` is RUNNING (a fresh SSH connection)."""
    out = SlurmHook(CONN_ID).check(["squeue", "--me", "-h", "-t", "RUNNING", "-o", "%j"]).stdout
    return any(name.startswith(prefix) for name in out.split())


def stage_prefix(prod: Production, stage: str) -> str:
    return f"lstflow.{prod.dag_id}.{stage}."


def planned_elements(prod: Production, stage: str) -> int:
    """How many work items the stage planned (its run record on the cluster)."""
    record = prod.log_root / prod.prod_id / "runs" / run_label(RUN_ID) / f"{stage}.json"
    return len(json.loads(record.read_text())["elements"])


def finished_elements(prod: Production, stage: str) -> set[int]:
    """Array indices of the stage whose payload ran to its end (their ledger lines)."""
    prefix = stage_prefix(prod, stage)
    lines = prod.ledger.read_text().splitlines() if prod.ledger.exists() else []
    return {
        int(index) for name, index in (line.split() for line in lines) if name.startswith(prefix)
    }


def duplicates(prod: Production, stage: str) -> int:
    """Submissions beyond one per job name (sacct and squeue)."""
    counts = count_jobs_by_tag(SlurmHook(CONN_ID), stage_prefix(prod, stage))
    assert counts, f"no job of {stage} found"
    return sum(counts.values()) - len(counts)


def utc_now() -> str:
    """Now, as the metadata DB writes its (UTC) timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def failed_tries(stack: AirflowStack, prod: Production, since: str) -> list[str]:
    """Task tries that failed (and were retried) since ``since``, as ``task#try``."""
    rows = stack.query(
        "SELECT task_id, try_number FROM task_instance_history "
        "WHERE dag_id = %s AND run_id = %s AND state = 'failed' AND end_date >= %s",
        (prod.dag_id, RUN_ID, since),
    )
    return sorted(f"{task}#{number}" for task, number in rows)


# ---- the run ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outcomes(production: Production) -> dict[str, Outcome]:
    """Run the production once, injecting each fault in turn; measure each fault's outcome."""
    stack, prod = production.stack, production
    stack.trigger(prod.dag_id, RUN_ID)
    recovery: dict[str, tuple[float, list[str]]] = {}
    for fault in FAULTS:
        prefix = stage_prefix(prod, fault.stage)
        stack.wait_for_tasks(
            prod.dag_id,
            RUN_ID,
            lambda states, f=fault: states.get((f.stage, -1)) == "deferred",
            f"{fault.stage} to defer",
        )
        stack.wait(lambda p=prefix: running_jobs(p), 600, f"{fault.stage}'s elements to run")
        time.sleep(POLL_S + 1)  # the triggerer has polled: its SSH connection is open
        since = utc_now()
        started = time.monotonic()
        injector(fault, stack)()
        stack.wait_for_tasks(
            prod.dag_id,
            RUN_ID,
            lambda states, f=fault: states.get((f.recovered_task, -1)) in f.recovered_states,
            f"{fault.recovered_task} to recover from: {fault.name}",
        )
        recovery[fault.name] = (time.monotonic() - started, failed_tries(stack, prod, since))
    states = stack.wait_for_tasks(
        prod.dag_id, RUN_ID, all_in(FINISHED_TI_STATES), "every task to end", RUN_TIMEOUT_S
    )
    finished = set(states.values()) == {"success"}
    results = {}
    for fault in FAULTS:
        stages = sorted({fault.stage, fault.recovered_task})
        lost = sum(planned_elements(prod, s) - len(finished_elements(prod, s)) for s in stages)
        results[fault.name] = Outcome(
            seconds=recovery[fault.name][0],
            finished=finished,
            duplicates=sum(duplicates(prod, s) for s in stages),
            lost_items=lost,
            failed_tries=recovery[fault.name][1],
            detail=f"task states {sorted(states.items())}",
        )
    return results


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.key for fault in FAULTS])
def test_production_survives_fault_mid_run(fault: Fault, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[fault.name]
    record_fault(
        fault.name,
        finished=outcome.finished,
        classification=outcome.classification,
        duplicates=outcome.duplicates,
        lost_items=outcome.lost_items,
        seconds=outcome.seconds,
    )
    assert outcome.finished, outcome.detail
    assert outcome.duplicates == 0
    assert outcome.lost_items == 0
