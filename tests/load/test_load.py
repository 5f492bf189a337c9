"""Load: 20 productions triggered at once plus a 10-night simulate backfill (``--max-active-runs
3``), under real Airflow processes (scheduler, triggerer, dag-processor, api-server) on
PostgreSQL and the machine-wide local Slurm cluster.

The productions are small demo-like ones (``r0_to_dl1`` then ``merge_dl1``, two elements each)
whose payloads are stubs that write what their tool would; the nights are synthetic onsite nights
processed in simulate mode. While everything runs, the SSH connections of every Airflow process
to the cluster are sampled (``ss``, by PID, grouped by the component's process group); after it,
the cluster's records and the triggerer's log are read back. The figures are printed and go to
the README's Reliability section:

- every DAG run succeeds;
- 0 duplicate submissions: each job name is one job in squeue/sacct;
- 0 lost items: every planned production element left its ledger line, every planned night run
  is COMPLETED with 100 % of its subruns;
- SSH connections: at most ``MAX_SSH_PER_PROCESS`` per Airflow process and
  ``MAX_SSH_PER_COMPONENT`` per component (its process group, e.g. the scheduler's task workers);
- one status query per poll cycle: the triggerer's shared poller runs one squeue per cycle (plus
  an sacct only for jobs squeue has forgotten), for every trigger at once;
- only the night owning a calibration run builds it while its owner's run is active (#15.7).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.airflow_stack import AirflowStack
from support.slurm_counts import AccountedJob, jobs_under
from support.stub_env import (
    output_writing_body,
    stub_names,
    write_stub_env,
    write_stub_production,
)

from lstflow.onsite.paths import night_paths, night_tag
from lstflow.onsite.settings import build_version, load_settings
from lstflow.productions.naming import dag_id_for
from lstflow.run_label import run_label
from lstflow.slurm.hook import SlurmHook
from lstflow_dev import localcluster, synthetic_onsite
from lstflow_dev.synthetic_onsite import SyntheticNight, SyntheticRun

pytestmark = pytest.mark.load

CHECKOUT = Path(__file__).resolve().parents[2]
CONN_ID = "lstflow_local_slurm"
PRODUCTIONS = 20
NIGHTS = tuple(dt.date(2021, 3, 1) + dt.timedelta(days=k) for k in range(10))
#: Nights that took their own calibration runs; the others borrow the last one (look-back).
CALIBRATION_NIGHTS = frozenset(NIGHTS[k] for k in (0, 3, 6, 9))
MAX_ACTIVE_NIGHTS = 3
RUN_ID = "load"
PAYLOAD_S = 1
TIMEOUT_S = 1500  # about 8 min on an idle 2-core machine; see the README
MAX_SSH_PER_PROCESS = 2
MAX_SSH_PER_COMPONENT = 40  # the scheduler's LocalExecutor runs up to parallelism=32 tasks
SMALL = {"partition": "short", "mem": "100M", "time": "00:10:00", "cpus-per-task": "1"}
CHECKOUT_ENVIRONMENT = "checkout-venv"
POLL_CYCLE = re.compile(r"Slurm poll cycle \d+ over (\S+): (\d+) trigger\(s\)")
STATUS_QUERY = re.compile(r"Slurm (squeue|sacct) over (\S+):")


# ---- the workload --------------------------------------------------------------------------


def write_productions(workdir: Path, prod_ids: list[str]) -> Path:
    """A library of small productions (stub payloads); their data and ledger under ``workdir``."""
    library, ledger = workdir / "library", workdir / "ledger"
    env_file = write_stub_env(workdir, stub_names(), output_writing_body(ledger, PAYLOAD_S))
    for prod_id in prod_ids:
        root = workdir / prod_id
        for particle in ("gamma", "proton"):
            dl0 = root / "DL0" / particle
            dl0.mkdir(parents=True)
            (dl0 / f"{particle}_run1.simtel.zst").touch()
        stages = {
            "r0_to_dl1": [
                {"input": str(root / "DL0" / p), "output": str(root / "DL1" / p)}
                for p in ("gamma", "proton")
            ],
            "merge_dl1": [
                {"input": str(root / "DL1" / p), "output": str(root / f"{p}.h5")}
                for p in ("gamma", "proton")
            ],
        }
        for entries in stages.values():
            for entry in entries:
                entry["extra_slurm_options"] = SMALL  # type: ignore[assignment]
        write_stub_production(library, prod_id, env_file, stages)
    return library


def synthetic_nights() -> tuple[SyntheticNight, ...]:
    """One DATA run (two subruns) a night; every third night also takes DRS4 and PEDCALIB runs."""
    nights = []
    for k, night in enumerate(NIGHTS):
        run_id = 3000 + 10 * k
        runs = [SyntheticRun(run_id + 2, "DATA", 2, 2, "Crab", 22.0145, 8, 0.1)]
        if night in CALIBRATION_NIGHTS:
            runs = [SyntheticRun(run_id, "DRS4", 5, 1), SyntheticRun(run_id + 1, "PEDCALIB", 5, 1)]
            runs.append(SyntheticRun(run_id + 2, "DATA", 2, 2, "Crab", 22.0145, 8, 0.1))
        nights.append(SyntheticNight(night, tuple(runs)))
    return tuple(nights)


# ---- SSH connections per Airflow process -----------------------------------------------------


@dataclass
class SshSampler:
    """Samples, every ``interval`` s, the established connections to the cluster's sshd of each
    process of the stack (``ss -tnp``), keeping each process's and component's maximum."""

    stack: AirflowStack
    port: int
    interval: float = 1.0
    per_process: Counter[tuple[str, int]] = field(default_factory=Counter)
    per_component: Counter[str] = field(default_factory=Counter)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        out = subprocess.run(
            ["ss", "-Htnp", "state", "established", f"dst 127.0.0.1:{self.port}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        roots = {process.pid: name for name, process in self.stack.processes.items()}
        parents = parent_pids()
        now: Counter[tuple[str, int]] = Counter()
        for pid in (int(p) for p in re.findall(r"pid=(\d+)", out)):
            ancestor = pid
            while ancestor > 1 and ancestor not in roots:  # task workers are the scheduler's
                ancestor = parents.get(ancestor, 0)
            if ancestor in roots:
                now[(roots[ancestor], pid)] += 1
        for key, count in now.items():
            self.per_process[key] = max(self.per_process[key], count)
        totals: Counter[str] = Counter()
        for (component, _), count in now.items():
            totals[component] += count
        for component, count in totals.items():
            self.per_component[component] = max(self.per_component[component], count)
        self.samples += 1

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()

    def max_per_process(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for (component, _), count in self.per_process.items():
            result[component] = max(result.get(component, 0), count)
        return result


def parent_pids() -> dict[int, int]:
    """``{pid: parent pid}`` of every process (``/proc/<pid>/stat``)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return parents


@dataclass
class PollFigures:
    """What the triggerer's log says about its status queries."""

    cycles: int
    squeues: int
    saccts: int
    max_triggers: int


def poll_figures(log: str) -> PollFigures:
    triggers = [int(n) for conn, n in POLL_CYCLE.findall(log) if conn == CONN_ID]
    queries = Counter(kind for kind, conn in STATUS_QUERY.findall(log) if conn == CONN_ID)
    return PollFigures(len(triggers), queries["squeue"], queries["sacct"], max(triggers, default=0))


# ---- the stack and the run ---------------------------------------------------------------------


@dataclass
class LoadRun:
    seconds: float
    production_states: dict[str, str]
    night_states: dict[str, str]
    production_duplicates: int
    night_duplicates: int
    lost_production_items: int
    lost_night_items: int
    ssh_per_process: dict[str, int]
    ssh_per_component: dict[str, int]
    ssh_samples: int
    polls: PollFigures
    calibration_builders: dict[str, list[str]]
    early_builders: list[str]

    def figures(self) -> str:
        return json.dumps(
            {
                "seconds": round(self.seconds),
                "productions": Counter(self.production_states.values()),
                "nights": Counter(self.night_states.values()),
                "duplicates": self.production_duplicates + self.night_duplicates,
                "lost_items": self.lost_production_items + self.lost_night_items,
                "ssh_max_per_process": self.ssh_per_process,
                "ssh_max_per_component": self.ssh_per_component,
                "ssh_samples": self.ssh_samples,
                "poll_cycles": self.polls.cycles,
                "squeue": self.polls.squeues,
                "sacct": self.polls.saccts,
                "max_triggers_per_cycle": self.polls.max_triggers,
                "calibration_builders": self.calibration_builders,
            },
            indent=1,
        )


@pytest.fixture(scope="module")
def load_run(slurm_cluster: localcluster.ClusterInfo) -> Iterator[LoadRun]:
    workdir = localcluster.make_workdir("load")
    try:
        yield run_load(slurm_cluster, workdir)
    finally:
        localcluster.remove_workdir(workdir)


def run_load(cluster: localcluster.ClusterInfo, workdir: Path) -> LoadRun:
    tag = uuid.uuid4().hex[:6]
    prod_ids = [f"load{tag}_{k:02d}" for k in range(PRODUCTIONS)]
    night_prod_id = f"v0.12.3.load{tag}"
    library = write_productions(workdir, prod_ids)
    base = workdir / "onsite"
    synthetic_onsite.build_synthetic_tree(base, synthetic_nights(), prod_ids=(night_prod_id,))
    activate = CHECKOUT / ".venv" / "bin" / "activate"
    onsite_config = synthetic_onsite.write_settings(
        workdir / "config",
        environments={
            # the jobs run this checkout's job-side lstflow (the venv may point at another)
            CHECKOUT_ENVIRONMENT: [
                ["source", str(activate)],
                ["export", f"PYTHONPATH={CHECKOUT / 'plugins'}"],
            ]
        },
    )
    log_root = workdir / "prod_logs"
    log_root.mkdir()
    subprocess.run(["chown", "-R", f"{cluster.user}:", str(workdir)], check=True)

    home = CHECKOUT / ".lstflow" / "airflow-load"
    shutil.rmtree(home, ignore_errors=True)  # the previous run's logs stay until the next run
    settings = {
        f"AIRFLOW_CONN_{CONN_ID.upper()}": cluster.connection_json,
        "AIRFLOW__LSTFLOW__SSH_CONN_ID": CONN_ID,
        "AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS": str(library),
        "AIRFLOW__LSTFLOW__PARSE_CACHE_DIR": str(home / "parse-cache"),
        "AIRFLOW__LSTFLOW__LOG_ROOT": str(log_root),
        "AIRFLOW__LSTFLOW__POLL_INTERVAL": "2",
        "AIRFLOW__LSTFLOW__MAX_POLL_INTERVAL": "4",
        "AIRFLOW__LSTFLOW__ONSITE_CONFIG": str(onsite_config),
        "AIRFLOW__LSTFLOW__ONSITE_BASE": str(base),
        "AIRFLOW__LSTFLOW__NIGHTLY_POLL_INTERVAL": "1",  # backs off to 10 s while idle
    }
    stack = AirflowStack.create(home, home / "dags", settings)
    for dag_file in ("lstflow_productions.py", "lstflow_nightly.py"):
        (stack.dags_folder / dag_file).symlink_to(CHECKOUT / "dags" / dag_file)
    dag_ids = [dag_id_for(prod_id) for prod_id in prod_ids]
    sampler = SshSampler(stack, cluster.port)
    thread = threading.Thread(target=sampler.run, daemon=True)
    try:
        stack.start()
        stack.wait(
            lambda: (
                len(
                    stack.query(
                        "SELECT dag_id FROM dag WHERE NOT is_stale AND dag_id = ANY(%s)",
                        (["lstflow_nightly", *dag_ids],),
                    )
                )
                == PRODUCTIONS + 1
            ),
            300,
            "every DAG to be parsed",
        )
        thread.start()
        started = time.monotonic()
        # The backfill's CLI starts while the productions are triggered: both loads at once.
        with ThreadPoolExecutor(2) as pool:
            backfill = pool.submit(start_backfill, stack, night_prod_id)
            trigger_all(stack, dag_ids)
            backfill.result()
        states = stack.wait(
            lambda: finished_runs(stack, dag_ids), TIMEOUT_S, "every production and night to end"
        )
        seconds = time.monotonic() - started
    finally:
        sampler.stop()
        if thread.is_alive():
            thread.join(timeout=10)
        triggerer_log = stack.log_text("triggerer") if stack.starts else ""
        night_runs = night_run_dates(stack)
        stack.close()

    jobs = jobs_under(SlurmHook(CONN_ID), str(workdir))
    production_jobs = Counter(j.name for j in jobs if j.name.startswith(f"lstflow.mc_load{tag}"))
    night_jobs = Counter(j.name for j in jobs if j.name.startswith("lstflow.lstflow_nightly."))
    assert len(production_jobs) >= PRODUCTIONS * 2 and len(night_jobs) >= len(NIGHTS) * 10
    builders, early = calibration_builders(jobs, night_runs)
    return LoadRun(
        seconds=seconds,
        production_states={dag: state for dag, state in states.items() if dag in dag_ids},
        night_states={dag: state for dag, state in states.items() if dag not in dag_ids},
        production_duplicates=sum(production_jobs.values()) - len(production_jobs),
        night_duplicates=sum(night_jobs.values()) - len(night_jobs),
        lost_production_items=lost_production_items(log_root, prod_ids, workdir / "ledger"),
        lost_night_items=lost_night_items(base, night_prod_id),
        ssh_per_process=sampler.max_per_process(),
        ssh_per_component=dict(sampler.per_component),
        ssh_samples=sampler.samples,
        polls=poll_figures(triggerer_log),
        calibration_builders=builders,
        early_builders=early,
    )


def trigger_all(stack: AirflowStack, dag_ids: list[str]) -> None:
    """Trigger every production in one process, back to back (an ``airflow dags trigger`` each
    would take longer to start than the runs take to begin)."""
    script = (
        "import sys\n"
        "from airflow.api.common.trigger_dag import trigger_dag\n"
        "from airflow.utils.types import DagRunTriggeredByType\n"
        "for dag_id in sys.argv[1:]:\n"
        f"    trigger_dag(dag_id, run_id={RUN_ID!r}, triggered_by=DagRunTriggeredByType.CLI)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, *dag_ids],
        env=stack.env,
        cwd=stack.home,
        check=True,
        capture_output=True,
        timeout=300,
    )


def start_backfill(stack: AirflowStack, prod_id: str) -> None:
    """The 10-night simulate backfill of a new version, then the nightly DAG unpaused."""
    conf = json.dumps({"simulate": True, "prod_id": prod_id, "environment": CHECKOUT_ENVIRONMENT})
    stack.airflow(
        "backfill", "create", "--dag-id", "lstflow_nightly",
        "--from-date", NIGHTS[0].isoformat(), "--to-date", NIGHTS[-1].isoformat(),
        "--max-active-runs", str(MAX_ACTIVE_NIGHTS), "--dag-run-conf", conf,
    )  # fmt: skip
    stack.airflow("dags", "unpause", "lstflow_nightly")


def finished_runs(stack: AirflowStack, dag_ids: list[str]) -> dict[str, str] | None:
    """``{dag_id or night: state}`` once every production run and all nights ended."""
    # Unpausing the nightly DAG also schedules its latest night (no data: it fails); only the
    # backfill's nights count.
    rows = stack.query(
        "SELECT dag_id, logical_date, state FROM dag_run WHERE dag_id = ANY(%s) "
        "AND run_type IN ('manual', 'backfill')",
        (["lstflow_nightly", *dag_ids],),
    )
    states = {
        (str(dag) if dag != "lstflow_nightly" else str(date)[:10]): str(state)
        for dag, date, state in rows
    }
    done = all(state in ("success", "failed") for state in states.values())
    return states if done and len(states) == PRODUCTIONS + len(NIGHTS) else None


def night_run_dates(stack: AirflowStack) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """Each night's DAG run: (start, end)."""
    rows = stack.query(
        "SELECT logical_date, start_date, end_date FROM dag_run "
        "WHERE dag_id = 'lstflow_nightly' AND run_type = 'backfill'"
    )
    return {str(night)[:10]: (start, end) for night, start, end in rows if start and end}


def calibration_builders(
    jobs: list[AccountedJob], runs: dict[str, tuple[dt.datetime, dt.datetime]]
) -> tuple[dict[str, list[str]], list[str]]:
    """Which nights built each calibration night's DRS4 baseline (the night is in the job's
    working directory, its running directory), and the borrowers that built it although its
    owner's run was still active when they started (must be none)."""
    tags = {night_tag(night): night.isoformat() for night in NIGHTS}
    built = sorted(
        tags[match.group(1)]
        for job in jobs
        if job.name.startswith("lstflow.lstflow_nightly.drs4_baseline.")
        and (match := re.search(r"/running_analysis/(\d{8})/", job.workdir))
    )
    owners = sorted(night.isoformat() for night in CALIBRATION_NIGHTS)
    builders: dict[str, list[str]] = {owner: [] for owner in owners}
    early = []
    for night in built:
        owner = max(o for o in owners if o <= night)
        builders[owner].append(night)
        if night != owner and runs[owner][1] > runs[night][0]:
            early.append(night)
    return builders, early


def lost_production_items(log_root: Path, prod_ids: list[str], ledger: Path) -> int:
    """Planned elements (the run records) without a ledger line of their payload."""
    done = Counter(line.split()[0] for line in ledger.read_text().splitlines())
    lost = 0
    for prod_id in prod_ids:
        for record in (log_root / prod_id / "runs" / run_label(RUN_ID)).glob("*.json"):
            stage = json.loads(record.read_text())
            if "elements" not in stage:
                continue
            prefix = f"lstflow.{dag_id_for(prod_id)}.{record.stem}."
            ran = sum(count for name, count in done.items() if name.startswith(prefix))
            lost += max(len(stage["elements"]) - ran, 0)
    return lost


def lost_night_items(base: Path, prod_id: str) -> int:
    """Planned DATA runs of the nights not COMPLETED at 100 % of their subruns."""
    settings = load_settings(base.parent / "config" / "lst1_onsite.yaml", base)
    version = build_version(settings, {"prod_id": prod_id, "environment": CHECKOUT_ENVIRONMENT})
    lost = 0
    for night in synthetic_nights():
        status = night_paths(settings, night.night, version).running_dir / "night_status.json"
        rows: list[dict[str, Any]] = (
            json.loads(status.read_text())["runs"] if status.exists() else []
        )
        completed = {
            row["run"] for row in rows if row["state"] == "COMPLETED" and row["dl1_pct"] == 100
        }
        lost += len({run.run_id for run in night.of_type("DATA")} - completed)
    return lost


# ---- the assertions ----------------------------------------------------------------------------


def test_twenty_productions_and_a_ten_night_backfill_at_once(load_run: LoadRun) -> None:
    print("load figures:", load_run.figures())
    assert set(load_run.production_states.values()) == {"success"}, load_run.production_states
    assert len(load_run.night_states) == len(NIGHTS)
    assert set(load_run.night_states.values()) == {"success"}, load_run.night_states
    assert load_run.production_duplicates == 0
    assert load_run.night_duplicates == 0
    assert load_run.lost_production_items == 0
    assert load_run.lost_night_items == 0


def test_ssh_connections_per_airflow_process_stay_bounded(load_run: LoadRun) -> None:
    assert load_run.ssh_samples > 0
    assert load_run.ssh_per_component.get("triggerer", 0) >= 1, "the sampler saw no connection"
    assert all(n <= MAX_SSH_PER_PROCESS for n in load_run.ssh_per_process.values()), (
        load_run.ssh_per_process
    )
    assert all(n <= MAX_SSH_PER_COMPONENT for n in load_run.ssh_per_component.values()), (
        load_run.ssh_per_component
    )
    assert load_run.ssh_per_component.get("api-server", 0) == 0


def test_one_status_query_per_poll_cycle(load_run: LoadRun) -> None:
    polls = load_run.polls
    assert polls.cycles > 0
    assert polls.squeues == polls.cycles  # failed queries are retried: none here
    assert polls.saccts <= polls.cycles
    assert polls.max_triggers > 1  # the cycles were shared by several triggers


def test_only_the_owner_night_builds_a_calibration_run_while_it_runs(load_run: LoadRun) -> None:
    builders = load_run.calibration_builders
    assert all(owner in nights for owner, nights in builders.items()), builders
    assert load_run.early_builders == []
