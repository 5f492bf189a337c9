"""The nightly DAG end to end, in simulate mode, on the real local Slurm cluster over real SSH.

Everything runs in real Airflow processes with their own ``AIRFLOW_HOME`` under the checkout's
``.lstflow/`` and their own PostgreSQL database: ``airflow dags test`` for one triggered night
(deferrable Slurm steps run in-process), then api-server + scheduler + dag-processor + triggerer
for a 3-night ``airflow backfill create`` with a new analysis version. The jobs run the checkout's
``.venv/bin/python -m lstflow.jobs.simulate`` as the cluster's job user, so their printed
commands are read back from the Slurm element logs, and element states from sacct.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import postgres

from lstflow.onsite.paths import NightPaths, night_paths
from lstflow.onsite.plan import plan_night
from lstflow.onsite.settings import (
    AnalysisVersion,
    OnsiteSettings,
    build_version,
    load_settings,
)
from lstflow.onsite.tasks import JobMode, NightTasks
from lstflow.workitems import WorkItem
from lstflow_dev import synthetic_onsite

pytestmark = pytest.mark.e2e

CHECKOUT = Path(__file__).resolve().parents[2]
WORK_ROOT = CHECKOUT / ".lstflow" / "nightly-e2e"
JOB_PYTHON = CHECKOUT / ".venv" / "bin" / "python"
CLUSTER_ENV_FILE = Path(
    os.environ.get("LSTFLOW_CLUSTER_ENV", "/var/lib/lstflow-localcluster/client/env")
)
DAG_ID = "lstflow_nightly"
NIGHTS = (dt.date(2020, 1, 17), dt.date(2020, 1, 18), dt.date(2020, 1, 19))
OLD, NEW = "v0.12.3", "v0.12.4"
FAILING_SUBRUN = "r0_to_dl1.01807.0001"


def read_cluster_env() -> dict[str, str]:
    if not CLUSTER_ENV_FILE.is_file():
        raise RuntimeError(
            f"local Slurm cluster env file {CLUSTER_ENV_FILE} is missing; run `lstflow cluster up`"
            " (or set LSTFLOW_CLUSTER_ENV to the env file of a running cluster)"
        )
    pairs = (line.split("=", 1) for line in CLUSTER_ENV_FILE.read_text().splitlines())
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


def connection_json(cluster: dict[str, str]) -> str:
    """The SSH connection with the host key pinned from the cluster's known_hosts."""
    known = Path(cluster["SLURM_SSH_KNOWN_HOSTS"]).read_text().split()
    return json.dumps(
        {
            "conn_type": "ssh",
            "host": cluster["SLURM_SSH_HOST"],
            "port": int(cluster["SLURM_SSH_PORT"]),
            "login": cluster["SLURM_SSH_USER"],
            "extra": {"key_file": cluster["SLURM_SSH_KEY"], "host_key": f"{known[1]} {known[2]}"},
        }
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Deployment:
    """A synthetic onsite tree plus an Airflow home configured for it and for the cluster."""

    base: Path
    config: Path
    home: Path
    env: dict[str, str]
    cluster: dict[str, str]

    def run(self, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv, env=self.env, cwd=self.home, capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, f"{shlex.join(argv)} failed:\n{result.stderr[-4000:]}"
        return result

    def airflow(self, *args: str, timeout: float = 900) -> str:
        airflow = str(Path(sys.executable).with_name("airflow"))
        return self.run(airflow, *args, timeout=timeout).stdout

    def dag_runs(self) -> list[dict[str, Any]]:
        out = self.airflow("dags", "list-runs", DAG_ID, "-o", "json")
        return json.loads(next(line for line in out.splitlines() if line.startswith("[")))

    def settings_version(self, prod_id: str) -> tuple[OnsiteSettings, AnalysisVersion]:
        settings = load_settings(self.config, self.base)
        return settings, build_version(settings, {"prod_id": prod_id, **self.environment})

    @property
    def environment(self) -> dict[str, str]:
        """The DAG-run conf's lstchain environment: the checkout venv's ``activate``."""
        return {"environment": f"source {CHECKOUT / '.venv' / 'bin' / 'activate'}"}

    def night_tasks(self, night: dt.date, prod_id: str) -> NightTasks:
        settings, version = self.settings_version(prod_id)
        plan = plan_night(settings, night, version)
        return NightTasks(settings, plan, JobMode(simulate=True, python=str(JOB_PYTHON)))

    def paths(self, night: dt.date, prod_id: str) -> NightPaths:
        settings, version = self.settings_version(prod_id)
        return night_paths(settings, night, version)

    def sacct(self, job_ids: list[str], count: int) -> dict[str, dict[int, str]]:
        """Element states ``{job: {index: state}}`` once ``count`` rows are there (sacct lags)."""
        argv = ["sacct", "-X", "--parsable2", "--noheader", "-o", "JobID,State"]
        env = {**os.environ, "SLURM_CONF": self.cluster["SLURM_CONF"]}
        deadline = time.monotonic() + 60
        while True:
            out = subprocess.run(
                [*argv, "-j", ",".join(job_ids)], env=env, capture_output=True, text=True
            ).stdout
            states: dict[str, dict[int, str]] = {}
            for line in out.splitlines():
                element, state = line.split("|")
                job, _, index = element.partition("_")
                if index.isdigit():
                    states.setdefault(job, {})[int(index)] = state
            if sum(len(v) for v in states.values()) >= count or time.monotonic() > deadline:
                return states
            time.sleep(2)

    def give_to_job_user(self, path: Path) -> None:
        subprocess.run(["chown", "-R", f"{self.cluster['SLURM_SSH_USER']}:", str(path)], check=True)


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    cluster = read_cluster_env()
    probe = subprocess.run(
        [str(JOB_PYTHON), "-c", "import lstflow.jobs.simulate"], capture_output=True, text=True
    )
    assert probe.returncode == 0, (
        f"{JOB_PYTHON} cannot import lstflow.jobs.simulate; build the checkout venv "
        f"(make setup): {probe.stderr[-500:]}"
    )
    # A fresh directory per session: the Slurm operator adopts an existing job with the same
    # DAG run, task and spec (its exactly-once rule), and backfill run ids repeat across
    # sessions, so identical paths would adopt the previous session's jobs.
    shutil.rmtree(WORK_ROOT, ignore_errors=True)
    work = WORK_ROOT / uuid.uuid4().hex[:8]
    base, home = work / "onsite", work / "airflow"
    synthetic_onsite.build_synthetic_tree(base)
    config = synthetic_onsite.write_settings(work / "config")
    server = postgres.up()
    database = postgres.unique_database_name("nightly_e2e")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": server.create_database(database),
        "PYTHONPATH": str(CHECKOUT / "plugins"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Paused until the backfill exists: the scheduler runs only what the test asks for.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LSTFLOW__ONSITE_CONFIG": str(config),
        "AIRFLOW__LSTFLOW__ONSITE_BASE": str(base),
        "AIRFLOW__LSTFLOW__JOB_PYTHON": str(JOB_PYTHON),
        "AIRFLOW__LSTFLOW__NIGHTLY_POLL_INTERVAL": "2",
        "AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM": connection_json(cluster),
    }
    home.mkdir(parents=True)
    deployment = Deployment(base, config, home, env, cluster)
    deployment.give_to_job_user(base)
    api_port = str(free_port())
    deployment.run(
        sys.executable,
        "-m",
        "lstflow.cli",
        "init",
        "--airflow-home",
        str(home),
        "--api-port",
        api_port,
    )
    yield deployment
    server.drop_database(database)


def element_log(paths: NightPaths, name: str, job_id: str, index: int) -> str:
    return (paths.log_dir / f"{name}_{job_id}_{index}.out").read_text()


def simulated_command(item: WorkItem) -> str:
    """What the simulate wrapper prints for a work item: its real command, shell-quoted."""
    return "SIMULATE: " + shlex.join(item.argv[item.argv.index("--") + 1 :])


def latest_jobs(job_ids: list[str], states: dict[str, dict[int, str]], size: int) -> list[str]:
    """For each array index, the newest job that ran it."""
    return [max((j for j in job_ids if i in states.get(j, {})), key=int) for i in range(size)]


def test_triggered_night_runs_every_subrun_retries_one_alone_and_closes(
    deployment: Deployment,
) -> None:
    night = NIGHTS[0]
    paths = deployment.paths(night, OLD)
    marker = paths.fail_once_dir / FAILING_SUBRUN
    marker.parent.mkdir(parents=True)
    marker.touch()
    deployment.give_to_job_user(paths.running_dir.parents[1])
    conf = json.dumps({"simulate": True, **deployment.environment})
    deployment.airflow("dags", "test", DAG_ID, night.isoformat(), "-c", conf)

    (run,) = deployment.dag_runs()
    assert (run["state"], run["logical_date"][:10]) == ("success", "2020-01-17")
    status = json.loads((paths.running_dir / "night_status.json").read_text())
    rows = {row["run"]: row for row in status["runs"]}
    tasks = deployment.night_tasks(night, OLD)

    for data_run in tasks.plan.data_runs:
        run_id, tailcut = data_run.run_id, tasks.tailcut(data_run.run_id)
        subrun_steps = {
            "r0_to_dl1": tasks.r0_to_dl1(run_id),
            "dl1ab": tasks.dl1ab(run_id, tailcut),
            "datacheck_subrun": tasks.datacheck_subruns(run_id, tailcut),
        }
        for step, items in subrun_steps.items():
            job_ids = rows[run_id]["steps"][step]["job_ids"]
            # each resubmission holds at least one element
            states = deployment.sacct(job_ids, len(items) + len(job_ids) - 1)
            name = tasks.array_spec(step, items, run_id).name
            for index, (item, job_id) in enumerate(
                zip(items, latest_jobs(job_ids, states, len(items)), strict=True)
            ):
                assert states[job_id][index] == "COMPLETED"
                log = element_log(paths, name, job_id, index)
                assert simulated_command(item) in log.splitlines()
        assert rows[run_id]["state"] == "COMPLETED"

    # the fail-once subrun failed in the first array and only it was resubmitted
    first, retry = rows[1807]["steps"]["r0_to_dl1"]["job_ids"]
    states = deployment.sacct([first, retry], 4)
    assert states[first] == {0: "COMPLETED", 1: "FAILED", 2: "COMPLETED"}
    assert states[retry] == {1: "COMPLETED"}
    assert (
        "SIMULATE-FAILED-ONCE: r0_to_dl1.01807.0001"
        in (paths.log_dir / f"lst1_20200117_{OLD}_r0_to_dl1_01807_{first}_1.err").read_text()
    )
    assert (rows[1807]["tries"], rows[1807]["job_id"]) == (2, retry)
    assert rows[1808]["tries"] == 1
    assert not marker.exists()

    closed = json.loads(paths.simulated_night_closed_marker.read_text())
    assert (closed["night"], closed["prod_id"]) == ("2020-01-17", OLD)
    assert status["night_steps"]["night_close"]["state"] == "COMPLETED"
    assert not paths.night_closed_marker.exists()  # the real marker is never faked
    assert not paths.dl1_dir.exists() and not paths.dl2_dir.exists()  # simulate creates nothing

    table = deployment.run(
        sys.executable, "-m", "lstflow.cli", "night", "status", "--night", "2020-01-17",
        "--onsite-config", str(deployment.config), "--base", str(deployment.base),
    ).stdout  # fmt: skip
    assert ["1807", "DATA", "3", "Crab", "2", retry, "COMPLETED"] in [
        line.split()[:7] for line in table.splitlines()
    ]


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(path.relative_to(root)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def airflow_services(deployment: Deployment) -> Iterator[Deployment]:
    """api-server, scheduler, dag-processor and triggerer, stopped by their process group."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    processes = []
    for service in ("api-server", "scheduler", "dag-processor", "triggerer"):
        log = (deployment.home / f"{service}.log").open("w")
        processes.append(
            subprocess.Popen(
                [airflow, service],
                env=deployment.env,
                cwd=deployment.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    try:
        deadline = time.monotonic() + 240
        while DAG_ID not in deployment.airflow("dags", "list", "-o", "plain"):
            assert time.monotonic() < deadline, "the dag-processor never registered the DAG"
            time.sleep(5)
        yield deployment
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def old_version_outputs(deployment: Deployment) -> None:
    """What a real processing with the old version left behind (closed nights, DL1, DL2)."""
    for night in NIGHTS:
        paths = deployment.paths(night, OLD)
        for run in deployment.night_tasks(night, OLD).plan.data_runs:
            for path in (
                paths.dl1_dir / f"dl1_LST-1.Run{run.run_id:05d}.0000.h5",
                paths.dl1b_dir("tailcut84") / f"dl1_LST-1.Run{run.run_id:05d}.h5",
                paths.dl2_dir / "tailcut84" / f"dl2_LST-1.Run{run.run_id:05d}.h5",
            ):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"{OLD} output of run {run.run_id}\n")
        paths.night_closed_marker.parent.mkdir(parents=True, exist_ok=True)
        paths.night_closed_marker.write_text(json.dumps({"prod_id": OLD}))
    deployment.give_to_job_user(deployment.base)


def overlap(runs: list[dict[str, Any]], since: dt.datetime) -> int:
    """The largest number of runs active at one moment after ``since`` (a rerun keeps the start
    date of its first run)."""
    events = []
    for run in runs:
        start = max(dt.datetime.fromisoformat(run["start_date"]), since)
        events += [(start, 1), (dt.datetime.fromisoformat(run["end_date"]), -1)]
    active = peak = 0
    for _, change in sorted(events):
        active += change
        peak = max(peak, active)
    return peak


def test_backfill_of_three_nights_with_a_new_version_leaves_the_old_one_untouched(
    airflow_services: Deployment,
) -> None:
    deployment = airflow_services
    old_version_outputs(deployment)
    before = snapshot(deployment.base)
    conf = json.dumps({"simulate": True, "prod_id": NEW, **deployment.environment})
    created = dt.datetime.now(dt.UTC)
    # A release reprocessing also reruns nights that already completed (here night 1, run by
    # the previous test): --reprocess-behavior completed.
    deployment.airflow(
        "backfill", "create", "--dag-id", DAG_ID, "--from-date", "2020-01-17",
        "--to-date", "2020-01-19", "--max-active-runs", "2", "--reprocess-behavior", "completed",
        "--dag-run-conf", conf,
    )  # fmt: skip
    deployment.airflow("dags", "unpause", DAG_ID)

    def finished(run: dict[str, Any]) -> bool:
        ended = run["end_date"] and dt.datetime.fromisoformat(run["end_date"]) > created
        return bool(ended) and run["state"] in ("success", "failed")

    nights = {night.isoformat() for night in NIGHTS}
    deadline = time.monotonic() + 1500
    while True:
        runs = [run for run in deployment.dag_runs() if run["logical_date"][:10] in nights]
        if len(runs) == 3 and all(finished(run) for run in runs):
            break
        assert time.monotonic() < deadline, f"backfill not finished: {runs}"
        time.sleep(10)

    by_night = {run["logical_date"][:10]: run for run in runs}
    for night in NIGHTS:
        run = by_night[night.isoformat()]
        assert run["state"] == "success", run
        if run["run_id"].startswith("backfill__"):  # night 1 is the rerun of the manual run
            assert run["run_after"][:16] == f"{night + dt.timedelta(days=1)}T07:00"
        paths = deployment.paths(night, NEW)
        closed = json.loads(paths.simulated_night_closed_marker.read_text())
        assert (closed["night"], closed["prod_id"]) == (night.isoformat(), NEW)
        status = json.loads((paths.running_dir / "night_status.json").read_text())
        planned = {r.run_id for r in deployment.night_tasks(night, NEW).plan.data_runs}
        assert {row["run"] for row in status["runs"] if row["type"] == "DATA"} == planned
        assert all(row["state"] == "COMPLETED" for row in status["runs"])
    assert overlap(runs, created) <= 2  # --max-active-runs throttles the nights run at once

    after = snapshot(deployment.base)
    assert {path: after.get(path) for path in before} == before  # old version untouched
    new_files = set(after) - set(before)
    assert new_files and all(f"/{NEW}/" in path for path in new_files)
