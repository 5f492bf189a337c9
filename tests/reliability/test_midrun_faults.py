"""Faults while a production runs: a real ``mc_<prod_id>`` DAG (the factory's, from a production
config) under real Airflow processes, on a Slurm cluster of its own that the faults may break.

One production of six stages (r0_to_dl1 → train_test_split → merge_dl1 → train_pipe →
dl1_to_dl2 → dl2_to_irfs, plus plot_rf_feat) whose payloads are stubs that sleep a few seconds
and then write a ledger line. While one stage's array runs, one fault is injected: kill -9 of the
scheduler, restarts of slurmctld and slurmd, slurmdbd stopped for 60 s (so sacct fails while the
next stages submit), a restart of sshd that also drops its open connections, kill -9 of the
triggerer. Each fault's outcome is then checked on its own: the production finished, every
submission (one job name each) was sbatch'ed once, every planned element ran to its end.

The same production also runs lineage-aware (``[lstflow] lineage_runs``, docs/lineage.md): its
feeder submits every stage at the start with Slurm dependencies, so Slurm moves from stage to
stage without Airflow and a fault cannot wait for a stage's task to defer. Each fault is
injected once an element of its stage runs (of any stage of the run if its stage has already
ended) while the run's tasks are settled, and has recovered when the hit process is back, a
watcher has succeeded since and every task is settled again (``lineage_outcomes``). At the end
the run ended success, no job name of the run was sbatch'ed twice, every planned element of
every stage wrote its ledger line and no job of the run is left in the queue (that last check
holds for the stage-by-stage run too).

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
from collections.abc import Callable, Iterable, Iterator
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

from lstflow.productions.lineage_operators import FEEDER_TASK_ID, LINEAGE_GROUP_ID
from lstflow.productions.naming import dag_id_for
from lstflow.run_label import run_label
from lstflow.slurm.hook import SlurmHook
from lstflow_dev import localcluster

pytestmark = pytest.mark.reliability

CHECKOUT = Path(__file__).resolve().parents[2]
CONN_ID = "lstflow_faults"
PAYLOAD_S = 10
#: Long enough that the six faults, injected one after the other while Slurm runs the chain on
#: its own, each land while elements of the run still run: the slurmdbd outage alone takes 60 s,
#: and a fault has recovered only once a watcher saw an element end after it.
LINEAGE_PAYLOAD_S = 60
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


@dataclass(frozen=True)
class Variant:
    """How the production runs: stage by stage, or lineage-aware (``settings`` on top of the
    stack's); ``suffix`` tells its rows of the fault table apart."""

    key: str
    payload_s: int
    settings: dict[str, str]
    suffix: str
    #: The stack's ``AIRFLOW_HOME`` under ``.lstflow`` (kept until the next run, for its logs).
    home: str


VARIANTS = (
    Variant("stage", PAYLOAD_S, {}, "", "airflow-faults"),
    Variant(
        "lineage",
        LINEAGE_PAYLOAD_S,
        {"AIRFLOW__LSTFLOW__LINEAGE_RUNS": "True"},
        " (lineage-aware)",
        "airflow-faults-lineage",
    ),
)


@dataclass
class Outcome:
    seconds: float
    finished: bool
    duplicates: int
    lost_items: int
    failed_tries: list[str]
    detail: str
    left_queued: list[str]
    #: The stage whose running elements the fault hit, when the variant chooses it at run time.
    hit: str = ""

    @property
    def classification(self) -> str:
        retried = ", ".join(self.failed_tries) or "none"
        ended = "success" if self.finished else "FAILED"
        hit = f"injected while {self.hit} ran; " if self.hit else ""
        return f"{hit}run ended {ended}; task tries failed and retried while recovering: {retried}"


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


def write_production(workdir: Path, prod_id: str, payload_s: int) -> Path:
    """The production's library directory; its data, stubs and ledger go under ``workdir``."""
    for particle in ("gamma", "proton"):
        dl0 = workdir / "DL0" / particle
        dl0.mkdir(parents=True)
        for run in (1, 2):
            (dl0 / f"{particle}_run{run}.simtel.zst").touch()
    ledger = workdir / "ledger"
    body = output_writing_body(ledger, payload_s)
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
    variant: Variant


@pytest.fixture(scope="module", params=VARIANTS, ids=[variant.key for variant in VARIANTS])
def production(
    cluster: localcluster.ClusterInfo, workdir: Path, request: pytest.FixtureRequest
) -> Iterator[Production]:
    """The production's DAG parsed by a running Airflow stack that talks to our cluster."""
    variant: Variant = request.param
    prod_id = f"faults_{uuid.uuid4().hex[:8]}"
    root = workdir / variant.key
    root.mkdir()
    library = write_production(root, prod_id, variant.payload_s)
    log_root = root / "prod_logs"
    log_root.mkdir()
    for path in [root, *root.rglob("*")]:  # the jobs write data, logs and the ledger
        shutil.chown(path, cluster.user, cluster.user)
    home = CHECKOUT / ".lstflow" / variant.home
    shutil.rmtree(home, ignore_errors=True)  # the previous run's logs stay until the next run
    settings = {
        f"AIRFLOW_CONN_{CONN_ID.upper()}": cluster.connection_json,
        "AIRFLOW__LSTFLOW__SSH_CONN_ID": CONN_ID,
        "AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS": str(library),
        "AIRFLOW__LSTFLOW__PARSE_CACHE_DIR": str(home / "parse-cache"),
        "AIRFLOW__LSTFLOW__LOG_ROOT": str(log_root),
        "AIRFLOW__LSTFLOW__POLL_INTERVAL": str(POLL_S),
        "AIRFLOW__LSTFLOW__MAX_POLL_INTERVAL": "4",
        **variant.settings,
    }
    stack = AirflowStack.create(home, home / "dags", settings)
    stack.link_production_dags()
    try:
        stack.start()
        dag_id = dag_id_for(prod_id)
        stack.wait_for_dag(dag_id)
        yield Production(prod_id, dag_id, stack, log_root, root / "ledger", variant)
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


def run_prefix(prod: Production) -> str:
    """Every job name of the production's runs starts so (stage tasks, feeder and watchers)."""
    return f"lstflow.{prod.dag_id}."


def stage_prefixes(prod: Production, stage: str) -> tuple[str, str]:
    """Job names of one stage: its stage task's or the lineage feeder's, a lineage watcher's."""
    return f"{run_prefix(prod)}{stage}.", f"{run_prefix(prod)}{LINEAGE_GROUP_ID}.{stage}."


def stage_of(prod: Production, job_name: str) -> str:
    return (
        job_name.removeprefix(run_prefix(prod)).removeprefix(f"{LINEAGE_GROUP_ID}.").split(".")[0]
    )


def queued_jobs(prefixes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(state, job name) of each queued element of jobs named ``prefixes...`` (a fresh SSH
    connection)."""
    out = SlurmHook(CONN_ID).check(["squeue", "--me", "-h", "-r", "-o", "%T %j"]).stdout
    rows = (line.split() for line in out.splitlines())
    return [(state, name) for state, name in rows if name.startswith(prefixes)]


def running_jobs(prefixes: tuple[str, ...]) -> bool:
    """Whether an element of a job named ``prefixes...`` is RUNNING."""
    return any(state == "RUNNING" for state, _ in queued_jobs(prefixes))


def records(prod: Production) -> Path:
    """The run records: per stage, the elements it planned (``<stage>.json``)."""
    return prod.log_root / prod.prod_id / "runs" / run_label(RUN_ID)


def planned_elements(prod: Production, stage: str) -> int:
    """How many work items the stage planned (its run record on the cluster)."""
    return len(json.loads((records(prod) / f"{stage}.json").read_text())["elements"])


def recorded_stages(prod: Production) -> list[str]:
    """The stages the run planned: those with a run record."""
    found = [
        path.stem
        for path in sorted(records(prod).glob("*.json"))
        if "elements" in json.loads(path.read_text())
    ]
    assert found, f"no run record in {records(prod)}"
    return found


def finished_elements(prod: Production, stage: str) -> set[int]:
    """Array indices of the stage whose payload ran to its end (their ledger lines)."""
    prefixes = stage_prefixes(prod, stage)
    lines = prod.ledger.read_text().splitlines() if prod.ledger.exists() else []
    return {
        int(index) for name, index in (line.split() for line in lines) if name.startswith(prefixes)
    }


def lost_items(prod: Production, stages: Iterable[str]) -> int:
    return sum(planned_elements(prod, s) - len(finished_elements(prod, s)) for s in stages)


def duplicates(prod: Production, prefixes: tuple[str, ...]) -> int:
    """Submissions beyond one per job name (sacct and squeue) among names ``prefixes...``."""
    counts = count_jobs_by_tag(SlurmHook(CONN_ID), run_prefix(prod))
    mine = {name: count for name, count in counts.items() if name.startswith(prefixes)}
    assert mine, f"no job named {prefixes} found"
    return sum(mine.values()) - len(mine)


def left_queued(prod: Production) -> list[str]:
    """The run's jobs still in squeue once it ended: pending for ever, or running untracked."""
    return [f"{name} {state}" for state, name in queued_jobs((run_prefix(prod),))]


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


def run_state(prod: Production) -> str | None:
    """The DAG run's state once it ended, else None."""
    rows = prod.stack.query(
        "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (prod.dag_id, RUN_ID)
    )
    state = str(rows[0][0]) if rows else None
    return state if state in ("success", "failed") else None


# ---- the run, stage by stage -----------------------------------------------------------------


def stage_outcomes(prod: Production) -> dict[str, Outcome]:
    """Inject each fault while its stage's task is deferred and its elements run."""
    stack = prod.stack
    stack.trigger(prod.dag_id, RUN_ID)
    recovery: dict[str, tuple[float, list[str]]] = {}
    for fault in FAULTS:
        prefixes = stage_prefixes(prod, fault.stage)
        stack.wait_for_tasks(
            prod.dag_id,
            RUN_ID,
            lambda states, f=fault: states.get((f.stage, -1)) == "deferred",
            f"{fault.stage} to defer",
        )
        stack.wait(lambda p=prefixes: running_jobs(p), 600, f"{fault.stage}'s elements to run")
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
    queued = left_queued(prod)
    results = {}
    for fault in FAULTS:
        stages = sorted({fault.stage, fault.recovered_task})
        results[fault.name] = Outcome(
            seconds=recovery[fault.name][0],
            finished=finished,
            duplicates=sum(duplicates(prod, stage_prefixes(prod, s)[:1]) for s in stages),
            lost_items=lost_items(prod, stages),
            failed_tries=recovery[fault.name][1],
            detail=f"task states {sorted(states.items())}",
            left_queued=queued,
        )
    return results


# ---- the run, lineage-aware ------------------------------------------------------------------

#: Task states in which a lineage-aware run's tasks are not recovering from anything: watching
#: (deferred), done, or waiting for the same group's earlier stage (no state yet).
SETTLED = frozenset({"deferred", "success", None})


def settled(states: dict[tuple[str, int], str | None], *, watching: bool) -> bool:
    """The feeder has submitted everything and every watcher is settled (``SETTLED``: not
    queued, running, up for retry); ``watching``: one of them is deferred, so the triggerer
    polls the cluster. A task failed for good fails the test at once."""
    feeder = states.get((FEEDER_TASK_ID, -1))
    watchers = {key: s for key, s in states.items() if key[0].startswith(f"{LINEAGE_GROUP_ID}.")}
    broken = {f"{t}[{i}]": s for (t, i), s in states.items() if s in ("failed", "upstream_failed")}
    assert not broken, f"tasks failed for good: {broken}"
    return (
        feeder == "success"
        and bool(watchers)
        and all(state in SETTLED for state in watchers.values())
        and (not watching or "deferred" in watchers.values())
    )


def stage_to_hit(prod: Production, stage: str) -> str | None:
    """``stage`` once one of its elements runs; when none of its jobs is queued any more (it
    ended: the feeder queued every stage at the start), the stage of any running element."""
    jobs = queued_jobs((run_prefix(prod),))
    assert jobs, f"every job of the run ended before {stage}'s fault: lengthen LINEAGE_PAYLOAD_S"
    own = stage_prefixes(prod, stage)
    running = [name for state, name in jobs if state == "RUNNING"]
    if any(name.startswith(own) for name in running):
        return stage
    if running and not any(name.startswith(own) for _, name in jobs):
        return stage_of(prod, running[0])
    return None


def watcher_succeeded(prod: Production, since: str) -> bool:
    """Whether a watcher succeeded since ``since``: Airflow saw elements end and moved on."""
    return bool(
        prod.stack.query(
            "SELECT 1 FROM task_instance WHERE dag_id = %s AND run_id = %s "
            "AND task_id LIKE %s AND state = 'success' AND end_date >= %s",
            (prod.dag_id, RUN_ID, f"{LINEAGE_GROUP_ID}.%", since),
        )
    )


def lineage_outcomes(prod: Production) -> dict[str, Outcome]:
    """Inject each fault while elements of its stage (or of a later one) run and the run's
    tasks are settled. It has recovered once the hit process is back (the injector waits for
    it), a watcher has succeeded since the injection (the triggerer's polls, the scheduler and
    a worker all worked after it) or the run ended, and every task is settled again."""
    stack = prod.stack
    stack.trigger(prod.dag_id, RUN_ID)

    def ready(stage: str) -> str | None:
        states = stack.task_states(prod.dag_id, RUN_ID)
        return stage_to_hit(prod, stage) if settled(states, watching=True) else None

    def recovered(since: str) -> bool:
        states = stack.task_states(prod.dag_id, RUN_ID)
        moved_on = watcher_succeeded(prod, since) or run_state(prod) is not None
        return settled(states, watching=False) and moved_on

    recovery: dict[str, tuple[float, list[str], str]] = {}
    for fault in FAULTS:
        hit = stack.wait(lambda f=fault: ready(f.stage), 600, f"elements to run ({fault.name})")
        time.sleep(POLL_S + 1)  # the triggerer has polled: its SSH connection is open
        since = utc_now()
        started = time.monotonic()
        injector(fault, stack)()
        stack.wait(lambda s=since: recovered(s), 600, f"the run to recover from: {fault.name}")
        recovery[fault.name] = (time.monotonic() - started, failed_tries(stack, prod, since), hit)
    state = stack.wait(lambda: run_state(prod), RUN_TIMEOUT_S, "the run to end")
    states = stack.task_states(prod.dag_id, RUN_ID)
    # Ledger lines name array indices, which identify elements within one array: this
    # production is one lineage (one model), so each stage is one array, as stage by stage.
    groups = {index for task, index in states if task.startswith(f"{LINEAGE_GROUP_ID}.")}
    assert groups == {0}, f"expected one lineage group, got map indexes {sorted(groups)}"
    stages = recorded_stages(prod)
    everything = (run_prefix(prod),)
    return {
        fault.name: Outcome(
            seconds=recovery[fault.name][0],
            finished=state == "success",
            duplicates=duplicates(prod, everything),
            lost_items=lost_items(prod, stages),
            failed_tries=recovery[fault.name][1],
            detail=f"run {state}, task states {sorted(states.items())}",
            left_queued=left_queued(prod),
            hit=recovery[fault.name][2],
        )
        for fault in FAULTS
    }


@pytest.fixture(scope="module")
def outcomes(production: Production) -> dict[str, Outcome]:
    """Run the production once, injecting each fault in turn; measure each fault's outcome."""
    if production.variant.key == "lineage":
        return lineage_outcomes(production)
    return stage_outcomes(production)


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.key for fault in FAULTS])
def test_production_survives_fault_mid_run(
    fault: Fault, production: Production, outcomes: dict[str, Outcome]
) -> None:
    outcome = outcomes[fault.name]
    record_fault(
        fault.name + production.variant.suffix,
        finished=outcome.finished,
        classification=outcome.classification,
        duplicates=outcome.duplicates,
        lost_items=outcome.lost_items,
        seconds=outcome.seconds,
    )
    assert outcome.finished, outcome.detail
    assert outcome.duplicates == 0
    assert outcome.lost_items == 0
    assert outcome.left_queued == []
