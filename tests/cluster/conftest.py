"""Fixtures for tests against the real local Slurm cluster over real SSH.

The cluster is machine-wide (``lstflow cluster up``); its env file gives host, port, user, key
and known_hosts. Airflow reads the connection ``lstflow_local_slurm`` from an environment
variable built here, with the host key pinned (strict checking), and gets its own
``AIRFLOW_HOME`` under the checkout's ``.lstflow/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = CHECKOUT / ".lstflow" / "airflow-slurm-tests"
CLUSTER_ROOT = Path(os.environ.get("LSTFLOW_CLUSTER_ROOT", "/var/lib/lstflow-localcluster"))
ENV_FILE = Path(os.environ.get("LSTFLOW_CLUSTER_ENV", CLUSTER_ROOT / "client" / "env"))


def read_cluster_env() -> dict[str, str]:
    if not ENV_FILE.is_file():
        raise RuntimeError(
            f"local Slurm cluster env file {ENV_FILE} is missing; run `lstflow cluster up` "
            "(or set LSTFLOW_CLUSTER_ENV to the env file of a running cluster)"
        )
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


def airflow_connection(cluster: dict[str, str]) -> dict[str, object]:
    """The SSH connection, its host key taken from the cluster's known_hosts (verified)."""
    known = Path(cluster["SLURM_SSH_KNOWN_HOSTS"]).read_text().split()
    host_key = f"{known[1]} {known[2]}"
    return {
        "conn_type": "ssh",
        "host": cluster["SLURM_SSH_HOST"],
        "port": int(cluster["SLURM_SSH_PORT"]),
        "login": cluster["SLURM_SSH_USER"],
        "extra": {"key_file": cluster["SLURM_SSH_KEY"], "host_key": host_key},
    }


# Airflow reads AIRFLOW_HOME when first imported: set everything before any test module loads.
CLUSTER_ENV = read_cluster_env()
os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM"] = json.dumps(airflow_connection(CLUSTER_ENV))


@pytest.fixture(scope="session")
def slurm_env() -> dict[str, str]:
    return CLUSTER_ENV


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata DB (SQLite) in this checkout's private AIRFLOW_HOME."""
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, timeout=600)
    return AIRFLOW_HOME


@pytest.fixture
def remote_dir(request: pytest.FixtureRequest, slurm_env: dict[str, str]) -> Iterator[str]:
    """A fresh directory owned by the job user (created over SSH as that user)."""
    from lstflow.slurm.hook import SlurmHook

    hook = SlurmHook()
    home = hook.check(["sh", "-c", 'printf %s "$HOME"']).stdout
    path = f"{home}/lstflow-tests/{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"
    hook.make_dirs([path])
    yield path
