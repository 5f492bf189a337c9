"""Real Airflow processes for tests: scheduler, dag-processor, triggerer and api-server.

``dag.test()`` runs a deferral in-process, so it cannot show what happens when the triggerer
dies, or what a user's "clear" does to a deferred task. This harness runs the real processes of
one private ``AIRFLOW_HOME`` (rendered by ``lstflow init``) and its own PostgreSQL database
(``support.postgres``), each in its own process group with its log in a file, and lets a test
trigger DAGs, read states from the metadata DB, and kill -9 or restart one process. Everything
is stopped by PID (process group) at the end; nothing is ever killed by name.

    stack = AirflowStack.create(home, home / "dags")   # new database, lstflow init, db migrate
    stack.start()                                      # all four, waits until healthy
    ...write a DAG file into stack.dags_folder...; stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id, "run1")
    stack.wait_for_tasks(dag_id, run_id, all_in({"deferred"}), "to defer")
    stack.restart("triggerer")                         # kill -9 its process group, start again
    stack.close()                                      # stop all four, drop the database

The api-server runs only the Execution API: LocalExecutor's task workers report through it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from support import postgres

CHECKOUT = Path(__file__).resolve().parents[2]
PRODUCTION_DAG_FILE = CHECKOUT / "dags" / "lstflow_productions.py"
AIRFLOW = Path(sys.executable).with_name("airflow")
T = TypeVar("T")

#: The ``job`` table's type of each component that heartbeats there.
JOB_TYPES = {
    "scheduler": "SchedulerJob",
    "dag-processor": "DagProcessorJob",
    "triggerer": "TriggererJob",
}
ALL_COMPONENTS = ("api-server", "dag-processor", "scheduler", "triggerer")
FINISHED_TI_STATES = {"success", "failed", "skipped", "upstream_failed", "removed"}

#: Seconds instead of Airflow's production defaults, so a test sees a restart take effect fast.
FAST_SETTINGS = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    # A killed triggerer's triggers go to a live one once its heartbeat is this old.
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
}


class StackError(RuntimeError):
    """A process died or a state was not reached in time; the message points at the logs."""


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 1.0
) -> T:
    """Call ``probe`` until it returns something not None/False; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class AirflowStack:
    """One private Airflow installation and the processes running it."""

    home: Path
    dags_folder: Path
    env: dict[str, str]
    api_port: int
    server: postgres.PostgresServer
    database: str
    #: The ``airflow`` command: the checkout venv's, or a deployment's own venv's.
    airflow_command: Path = AIRFLOW
    #: ``execution`` (what LocalExecutor's workers need) or ``all`` (with the UI and REST API).
    api_apps: str = "execution"
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)

    # ---- setup -----------------------------------------------------------------------------

    @classmethod
    def create(
        cls, home: Path, dags_folder: Path, extra_env: Mapping[str, str] | None = None
    ) -> AirflowStack:
        """A database of its own, ``airflow.cfg`` rendered by ``lstflow init``, DB migrated."""
        home.mkdir(parents=True, exist_ok=True)
        dags_folder.mkdir(parents=True, exist_ok=True)
        api_port = free_port()
        server = postgres.up()
        database = postgres.unique_database_name(f"stack_{home.name}")
        python_path = [str(CHECKOUT / "plugins"), os.environ.get("PYTHONPATH", "")]
        env = {
            **os.environ,
            **FAST_SETTINGS,
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": os.pathsep.join(part for part in python_path if part),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": server.create_database(database),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            # Several stacks may run on one machine: their log servers need ports of their own.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            **(extra_env or {}),
        }
        init_argv = [sys.executable, "-m", "lstflow.cli", "init", "--airflow-home", str(home)]
        init = subprocess.run(
            [*init_argv, "--api-port", str(api_port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if init.returncode != 0:
            server.drop_database(database)
            raise StackError(f"lstflow init failed:\n{init.stdout}\n{init.stderr}")
        return cls(home, dags_folder, env, api_port, server, database)

    def link_production_dags(self) -> None:
        """Put the checkout's production DAG file (the factory over the library) in the DAGs
        folder, as a deployment's ``lstflow dags write`` would."""
        (self.dags_folder / PRODUCTION_DAG_FILE.name).symlink_to(PRODUCTION_DAG_FILE)

    # ---- processes -------------------------------------------------------------------------

    def command(self, component: str) -> list[str]:
        if component == "api-server":
            return [
                str(self.airflow_command),
                "api-server",
                "--apps",
                self.api_apps,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--workers",
                "1",
            ]
        if component in JOB_TYPES:
            return [str(self.airflow_command), component]
        raise ValueError(f"unknown Airflow component {component!r}; one of {ALL_COMPONENTS}")

    def log_path(self, component: str, start: int | None = None) -> Path:
        """The log of the ``start``-th run of ``component`` (default: the latest)."""
        number = self.starts.get(component, 1) if start is None else start
        return self.home / "process-logs" / f"{component}-{number}.log"

    def log_text(self, component: str) -> str:
        """Everything every run of ``component`` wrote, oldest run first."""
        return "".join(
            self.log_path(component, n).read_text(errors="replace")
            for n in range(1, self.starts.get(component, 0) + 1)
        )

    def start(self, *components: str, timeout: float = 300) -> None:
        """Start ``components`` (all by default) and wait until each is healthy."""
        wanted = components or ALL_COMPONENTS
        baselines = {name: self._latest_job_id(name) for name in wanted}
        for name in wanted:
            if name in self.processes and self.processes[name].poll() is None:
                raise StackError(f"{name} is already running (pid {self.processes[name].pid})")
            self.starts[name] = self.starts.get(name, 0) + 1
            self.log_path(name).parent.mkdir(exist_ok=True)
            with self.log_path(name).open("wb") as log:
                self.processes[name] = subprocess.Popen(
                    self.command(name),
                    env=self.env,
                    cwd=self.home,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: kill it with its children
                )
        for name in wanted:
            wait_until(
                lambda name=name: self._healthy(name, baselines[name]),  # type: ignore[misc]
                timeout,
                f"{name} to become healthy (log: {self.log_path(name)})",
            )

    def kill(self, component: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the component's whole process group (kill -9 = a crashed host)."""
        process = self.processes[component]
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGKILL:
            process.wait(timeout=30)

    def restart(self, component: str, timeout: float = 300) -> None:
        """kill -9 then start again: the new process must take over the old one's work."""
        self.kill(component)
        self.start(component, timeout=timeout)

    def stop(self, component: str, grace: float = 30) -> None:
        """SIGTERM the component's process group, SIGKILL what is left after ``grace``."""
        process = self.processes.pop(component, None)
        if process is None:
            return
        with suppress(ProcessLookupError):  # already gone: fine
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        with suppress(ProcessLookupError):  # already gone: fine
            os.killpg(process.pid, signal.SIGKILL)  # children the leader left behind
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for component in list(self.processes):
            self.stop(component)

    def close(self) -> None:
        """Stop every process, then drop the stack's database."""
        try:
            self.stop_all()
        finally:
            self.server.drop_database(self.database)

    def check_alive(self) -> None:
        """Fail fast, naming the log, if a process this stack started has died."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise StackError(
                    f"{name} exited with {process.returncode}; see {self.log_path(name)}"
                )

    # ---- health ----------------------------------------------------------------------------

    def _healthy(self, component: str, baseline: int) -> bool:
        self.check_alive()
        if component == "api-server":
            url = f"http://127.0.0.1:{self.api_port}/execution/health"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return bool(response.status == 200)
            except OSError:
                return False
        return self._latest_job_id(component) > baseline

    def _latest_job_id(self, component: str) -> int:
        if component not in JOB_TYPES:
            return 0
        rows = self.query(
            "SELECT max(id) FROM job WHERE job_type = %s AND state = 'running'",
            (JOB_TYPES[component],),
        )
        return int(rows[0][0] or 0)

    # ---- the metadata DB and the CLI -------------------------------------------------------

    def query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        """Read the metadata DB directly (read-only, ``%s`` placeholders): no Airflow import
        per poll."""
        return self.server.query(self.database, sql, params)

    def airflow(self, *args: str, timeout: float = 300) -> str:
        """Run an ``airflow`` CLI command against this stack; return its stdout."""
        result = subprocess.run(
            [str(self.airflow_command), *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise StackError(
                f"airflow {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def wait(self, probe: Callable[[], T | None], timeout: float, what: str) -> T:
        """``wait_until`` that fails at once, naming the log, if one of our processes died."""

        def checked() -> T | None:
            self.check_alive()
            return probe()

        return wait_until(checked, timeout, what)

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> None:
        """Until the dag-processor has parsed and serialized ``dag_id``; on a timeout the error
        carries the end of the dag-processor's log (the stack's folder may not outlive the test)."""
        try:
            self.wait(
                lambda: self.query(
                    "SELECT 1 FROM dag JOIN serialized_dag USING (dag_id) "
                    "WHERE dag_id = %s AND NOT is_stale",
                    (dag_id,),
                ),
                timeout,
                f"DAG {dag_id} to be parsed (log: {self.log_path('dag-processor')})",
            )
        except StackError as error:
            errors = self.query("SELECT filename, stacktrace FROM import_error")
            found = "\n".join(f"{name}:\n{trace[-3000:]}" for name, trace in errors)
            tail = self.log_text("dag-processor")[-4000:]
            raise StackError(
                f"{error}\n--- import errors ---\n{found or 'none'}"
                f"\n--- end of the dag-processor's log ---\n{tail}"
            ) from None

    def trigger(self, dag_id: str, run_id: str) -> str:
        self.airflow("dags", "trigger", dag_id, "--run-id", run_id, "--output", "json")
        return run_id

    def trigger_as_ui(self, dag_id: str, run_id: str) -> str:
        """What the UI's Trigger button does: one REST call (needs ``api_apps = "all"``), without
        the ``airflow`` CLI's own start (3-10 s on two loaded cores)."""
        body = {"dag_run_id": run_id, "logical_date": None, "conf": {}}
        self.rest(f"/api/v2/dags/{dag_id}/dagRuns", body)
        return run_id

    def url(self, path: str) -> str:
        """``path`` on this stack's api-server."""
        return f"http://127.0.0.1:{self.api_port}{path}"

    def token(self, user: str, password: str) -> str:
        """A JWT for ``user``, as the UI's login gets one."""
        login = {"username": user, "password": password}
        token: str = json.loads(_post(self.url("/auth/token"), login, {}))["access_token"]
        return token

    def rest(self, path: str, body: Mapping[str, object]) -> dict[str, Any]:
        """POST ``body`` to the api-server's REST API as the admin user ``lstflow init`` made."""
        from lstflow.commands.init import ADMIN_USER

        passwords = json.loads((self.home / "simple_auth_manager_passwords.json").read_text())
        token = self.token(ADMIN_USER, passwords[ADMIN_USER])
        answer: dict[str, Any] = json.loads(
            _post(self.url(path), body, {"Authorization": f"Bearer {token}"})
        )
        return answer

    def task_log_text(self, dag_id: str, run_id: str, task_id: str) -> str:
        """Every log file of a task instance: each try's worker log and its triggers' logs."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "".join(path.read_text(errors="replace") for path in sorted(folder.rglob("*.log")))

    def clear_task(self, dag_id: str, task_id: str) -> None:
        """What a user's "Clear" does, through the CLI.

        Airflow 3.3's ``--task-regex`` is a substring match on task ids (``partial_subset``), not
        a regex: ``^stage$`` matches nothing. Pass task ids that no other task id contains.
        """
        self.airflow("tasks", "clear", "--yes", "--task-regex", task_id, dag_id)

    def task_states(self, dag_id: str, run_id: str) -> dict[tuple[str, int], str | None]:
        """``{(task_id, map_index): state}`` of one DAG run."""
        rows = self.query(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = %s AND run_id = %s",
            (dag_id, run_id),
        )
        return {(str(task), int(str(index))): _state(state) for task, index, state in rows}

    def wait_for_tasks(
        self,
        dag_id: str,
        run_id: str,
        accept: Callable[[dict[tuple[str, int], str | None]], bool],
        what: str,
        timeout: float = 600,
    ) -> dict[tuple[str, int], str | None]:
        """Until ``accept(task_states)`` holds; the error shows the last states seen."""
        seen: dict[tuple[str, int], str | None] = {}

        def probe() -> dict[tuple[str, int], str | None] | None:
            nonlocal seen
            seen = self.task_states(dag_id, run_id)
            return seen if seen and accept(seen) else None

        try:
            return self.wait(probe, timeout, f"{dag_id}/{run_id}: {what}")
        except StackError as error:
            raise StackError(f"{error}; last task states: {json.dumps(_printable(seen))}") from None


def _post(url: str, body: Mapping[str, object], headers: Mapping[str, str]) -> str:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", **headers}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        text: str = response.read().decode()
        return text


def all_in(states: set[str]) -> Callable[[dict[tuple[str, int], str | None]], bool]:
    """A ``wait_for_tasks`` condition: every task instance is in one of ``states``."""
    return lambda seen: all(state in states for state in seen.values())


def _state(value: object) -> str | None:
    return None if value is None else str(value)


def _printable(states: Mapping[tuple[str, int], str | None]) -> dict[str, str | None]:
    return {f"{task}[{index}]": state for (task, index), state in states.items()}
