"""The machine-wide local Slurm-over-SSH cluster used for development, tests and demos.

The daemons are managed by the bash scripts in ``include/localcluster/`` (so CI can run them
without Python); this module runs them, reads the client material they write, checks that jobs
can run this checkout's Python, and describes the cluster as an Airflow SSH connection.
Settings come from ``include/localcluster/defaults.conf``, each overridable by an environment
variable of the same name.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstflow_dev.checkout import CHECKOUT_ROOT, job_pythonpath

if TYPE_CHECKING:
    import paramiko

SCRIPTS_DIR = CHECKOUT_ROOT / "include" / "localcluster"
SETTINGS_FILE = SCRIPTS_DIR / "defaults.conf"
CONNECTION_ID = "lstflow_local_slurm"
UP_TIMEOUT_S = 900  # a cold start on a fresh machine includes apt-get install
DOWN_TIMEOUT_S = 300
JOB_PYTHON_ENV = "LSTFLOW_CLUSTER_JOB_PYTHON"


class ClusterError(RuntimeError):
    """The local cluster could not be brought up, stopped or described."""


@dataclass(frozen=True)
class ClusterInfo:
    """What a client needs to reach the running cluster (the parsed ``client/env`` file)."""

    env: dict[str, str]
    env_file: Path
    connection_json: str = field(repr=False)

    @property
    def host(self) -> str:
        return self.env["SLURM_SSH_HOST"]

    @property
    def port(self) -> int:
        return int(self.env["SLURM_SSH_PORT"])

    @property
    def user(self) -> str:
        return self.env["SLURM_SSH_USER"]

    @property
    def key_file(self) -> Path:
        return Path(self.env["SLURM_SSH_KEY"])

    @property
    def known_hosts(self) -> Path:
        return Path(self.env["SLURM_SSH_KNOWN_HOSTS"])

    @property
    def slurm_conf(self) -> str:
        return self.env["SLURM_CONF"]

    def ssh_client(self) -> paramiko.SSHClient:
        """A connected paramiko client that rejects any host key not in ``known_hosts``."""
        import paramiko

        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            self.host,
            port=self.port,
            username=self.user,
            key_filename=str(self.key_file),
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
        )
        return client


def parse_key_value_lines(text: str, source: str) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines (``#`` comments and blank lines allowed), as the scripts do."""
    values: dict[str, str] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.replace("_", "").isalnum() or not key[0].isalpha():
            raise ClusterError(f"{source}:{number}: cannot parse {raw_line!r}; expected KEY=VALUE")
        values[key] = value
    return values


def settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The effective settings: ``defaults.conf`` overridden by same-named environment variables."""
    environ = os.environ if environ is None else environ
    defaults = parse_key_value_lines(SETTINGS_FILE.read_text(), str(SETTINGS_FILE))
    return {key: environ.get(key, value) for key, value in defaults.items()}


def cluster_root() -> Path:
    return Path(settings()["LSTFLOW_CLUSTER_ROOT"])


def env_file() -> Path:
    return cluster_root() / "client" / "env"


def cluster_env() -> dict[str, str]:
    """The client environment written by ``up`` (SLURM_SSH_*, SLURM_CONF, SLURM_NODE, ...)."""
    path = env_file()
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ClusterError(
            f"{path} does not exist: the local cluster was never brought up on this machine; "
            "run `make cluster-up`"
        ) from None
    return parse_key_value_lines(text, str(path))


def known_host_key(known_hosts_text: str, host: str, port: int) -> str:
    """``"<type> <base64>"`` of the host key recorded for ``[host]:port`` in a known_hosts file."""
    wanted = host if port == 22 else f"[{host}]:{port}"
    for line in known_hosts_text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and wanted in fields[0].split(","):
            return f"{fields[1]} {fields[2]}"
    raise ClusterError(f"known_hosts has no key for {wanted}; run `make cluster-up` again")


def airflow_connection(env: Mapping[str, str]) -> dict[str, Any]:
    """The Airflow SSH connection for the cluster, with host-key verification on.

    ``host_key`` pins the server's key, so the SSH hook never trusts an unknown host
    (``no_host_key_check`` is deliberately absent).
    """
    host, port = env["SLURM_SSH_HOST"], int(env["SLURM_SSH_PORT"])
    known_hosts_text = Path(env["SLURM_SSH_KNOWN_HOSTS"]).read_text()
    return {
        "conn_type": "ssh",
        "description": "lstflow local Slurm cluster (make cluster-up)",
        "host": host,
        "port": port,
        "login": env["SLURM_SSH_USER"],
        "extra": {
            "key_file": env["SLURM_SSH_KEY"],
            "host_key": known_host_key(known_hosts_text, host, port),
        },
    }


def airflow_connection_json() -> str:
    """The connection as JSON, e.g. for ``AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM``."""
    return json.dumps(airflow_connection(cluster_env()), sort_keys=True)


def cluster_info() -> ClusterInfo:
    env = cluster_env()
    return ClusterInfo(
        env=env,
        env_file=env_file(),
        connection_json=json.dumps(airflow_connection(env), sort_keys=True),
    )


def _run_script(name: str, args: list[str], timeout_s: int) -> subprocess.CompletedProcess[str]:
    script = SCRIPTS_DIR / name
    try:
        return subprocess.run(
            ["bash", str(script), *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ClusterError(f"{script} did not finish within {timeout_s} s") from error


def _checked(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        raise ClusterError(f"{what} failed (exit {result.returncode}):\n{result.stderr.strip()}")


def up(*, job_python: str | None = None) -> ClusterInfo:
    """Bring the cluster up (a quick re-probe when it already runs) and return how to reach it.

    Also checks that jobs, which run as the SSH user, can use ``job_python`` (default:
    ``$LSTFLOW_CLUSTER_JOB_PYTHON``, else this interpreter) with lstchain and this checkout.
    """
    _checked(_run_script("up.sh", [], UP_TIMEOUT_S), "bringing up the local cluster")
    info = cluster_info()
    check_job_python(job_python or os.environ.get(JOB_PYTHON_ENV) or sys.executable, info.user)
    return info


def check_job_python(python: str, user: str) -> None:
    """Fail clearly when ``user`` cannot run ``python`` with lstchain and this checkout's code.

    ``find_spec`` proves the venv and lstchain are readable without paying lstchain's import.
    """
    probe = (
        "import importlib.util, sys; "
        "missing = [m for m in ('lstchain', 'lstflow', 'lstflow_dev') "
        "if importlib.util.find_spec(m) is None]; "
        "sys.exit('cannot import ' + ', '.join(missing) if missing else 0)"
    )
    result = subprocess.run(
        ["runuser", "-u", user, "--", python, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": job_pythonpath()},
        cwd="/",
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise ClusterError(
            f"jobs run as {user!r} but {user!r} cannot use {python} with lstchain and "
            f"{job_pythonpath()}: {result.stderr.strip() or result.stdout.strip()}. "
            f"Make the venv and the checkout readable by {user!r} (e.g. chmod -R o+rX), "
            f"or point {JOB_PYTHON_ENV} at a Python that is."
        )


def down(wipe: bool = False) -> None:
    """Cancel all jobs and stop the daemons; ``wipe`` also deletes all cluster state."""
    _checked(
        _run_script("down.sh", ["--wipe"] if wipe else [], DOWN_TIMEOUT_S),
        "stopping the local cluster",
    )


def parse_status(text: str) -> dict[str, Any]:
    """Turn ``status.sh`` output into ``{"up", "daemons", "partitions", "env_file"}``."""
    report: dict[str, Any] = {"up": False, "daemons": {}, "partitions": [], "env_file": None}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        fields = rest.split()
        if kind == "daemon" and len(fields) == 2:
            report["daemons"][fields[0]] = None if fields[1] == "-" else int(fields[1])
        elif kind == "partition" and len(fields) == 5:
            name, default, avail, timelimit, state = fields
            report["partitions"].append(
                {
                    "name": name,
                    "default": default == "yes",
                    "avail": avail,
                    "timelimit": timelimit,
                    "state": state,
                }
            )
        elif kind == "env_file":
            report["env_file"] = rest
        elif kind == "up":
            report["up"] = rest == "yes"
    return report


def status() -> dict[str, Any]:
    """Which daemons are alive (pid or None), partitions and node state, and the env file."""
    result = _run_script("status.sh", [], 60)
    if result.stdout.splitlines()[-1:] not in (["up yes"], ["up no"]):
        raise ClusterError(f"cannot report the local cluster's status: {result.stderr.strip()}")
    return parse_status(result.stdout)


def make_workdir(prefix: str) -> Path:
    """A fresh directory owned by the job user, for ``--chdir`` and job logs.

    Jobs can neither chdir to nor write in a root-owned directory (they end FAILED with
    JobLaunchFailure), and pytest's tmp_path is private to root.
    """
    env = cluster_env()
    user = pwd.getpwnam(env["SLURM_SSH_USER"])
    safe_prefix = "".join(c if c.isalnum() or c in "-_." else "_" for c in prefix)[:60]
    path = Path(env["LSTFLOW_CLUSTER_SCRATCH"]) / f"{safe_prefix}-{uuid.uuid4().hex[:8]}"
    path.mkdir(mode=0o775)
    os.chown(path, user.pw_uid, user.pw_gid)
    return path


def remove_workdir(path: Path) -> None:
    """Remove a directory made by :func:`make_workdir` (refuses anything outside scratch)."""
    scratch = Path(cluster_env()["LSTFLOW_CLUSTER_SCRATCH"])
    if path.parent != scratch:
        raise ClusterError(f"{path} is not a cluster work directory under {scratch}")
    shutil.rmtree(path)


def airflow_metadata_db_exists(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``$AIRFLOW_HOME`` is set and holds an initialised SQLite metadata DB."""
    environ = os.environ if environ is None else environ
    home = environ.get("AIRFLOW_HOME")
    return home is not None and home != "" and (Path(home) / "airflow.db").is_file()


def upsert_airflow_connection() -> None:
    """Create or replace ``lstflow_local_slurm`` in the Airflow metadata DB of ``$AIRFLOW_HOME``.

    Uses ``airflow connections import --overwrite`` of this interpreter's Airflow, so it works
    with whatever metadata DB the environment configures.
    """
    connection = {CONNECTION_ID: airflow_connection(cluster_env())}
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="lstflow-conn-") as handle:
        json.dump(connection, handle)
        handle.flush()
        result = subprocess.run(
            [sys.executable, "-m", "airflow", "connections", "import", "--overwrite", handle.name],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    _checked(result, f"airflow connections import of {CONNECTION_ID}")
