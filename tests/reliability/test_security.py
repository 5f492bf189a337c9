"""The trust model, tested: host keys are verified and never auto-added, and a connection's
secret (its private key) appears in no task log, XCom, metadata DB row, job script or job log.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import postgres
from support.operator_dags import new_dag_id, run_array_dag

from lstflow.slurm.hook import SlurmHook
from lstflow.workitems import ArraySpec, Resources, WorkItem
from lstflow_dev import localcluster

pytestmark = pytest.mark.reliability

CHECKOUT = Path(__file__).resolve().parents[2]
# Code that could switch host key checking off: paramiko policies and the SSH provider's extras.
INSECURE = re.compile(
    r"AutoAddPolicy|WarningPolicy|StrictHostKeyChecking[= ]+(no|accept-new)"
    r"|[\"']?no_host_key_check[\"']?\s*[:=]\s*[\"']?[Tt]rue|allow_host_key_change[\"']?\s*[:=]\s*[\"']?[Tt]rue"
)
SCANNED = ("plugins", "dev", "dags", "include", "Makefile", ".ci")


def connection(slurm_cluster: localcluster.ClusterInfo, **extra: object) -> dict[str, object]:
    conn = json.loads(slurm_cluster.connection_json)
    conn["extra"] = {**conn["extra"], **extra}
    return conn


@pytest.fixture
def use_connection(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def install(conn: dict[str, object]) -> str:
        conn_id = f"rel_{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    yield install


def test_no_code_turns_host_key_checking_off() -> None:
    offenders = []
    for name in SCANNED:
        root = CHECKOUT / name
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file() and path.suffix not in (".pyc", ".h5", ".gz", ".zst"):
                text = path.read_text(errors="replace")
                offenders += [f"{path}: {m.group(0)}" for m in INSECURE.finditer(text)]
    assert offenders == []


def test_a_wrong_host_key_fails_before_any_command(
    slurm_cluster: localcluster.ClusterInfo, use_connection, tmp_path: Path
) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "impostor")],
        check=True,
    )
    impostor = " ".join((tmp_path / "impostor.pub").read_text().split()[:2])
    workdir = localcluster.make_workdir("host-key")
    marker = workdir / "ran"
    try:
        hook = SlurmHook(use_connection(connection(slurm_cluster, host_key=impostor)))
        with pytest.raises(Exception, match=r"(?i)host key|not found in known_hosts"):
            hook.run(["touch", str(marker)])
        assert not marker.exists()
    finally:
        localcluster.remove_workdir(workdir)


def test_an_unknown_host_is_rejected_not_added(
    slurm_cluster: localcluster.ClusterInfo, use_connection
) -> None:
    known_hosts = Path.home() / ".ssh" / "known_hosts"
    before = known_hosts.read_bytes() if known_hosts.exists() else None
    conn = connection(slurm_cluster)
    del conn["extra"]["host_key"]  # type: ignore[attr-defined]
    hook = SlurmHook(use_connection(conn))
    with pytest.raises(Exception, match=r"(?i)not found in known_hosts|host key"):
        hook.run(["true"])
    after = known_hosts.read_bytes() if known_hosts.exists() else None
    assert after == before


@pytest.mark.parametrize("extra", [{"no_host_key_check": True}, {"allow_host_key_change": True}])
def test_a_connection_that_disables_verification_is_refused(
    slurm_cluster: localcluster.ClusterInfo, use_connection, extra: dict[str, bool]
) -> None:
    conn = connection(slurm_cluster, **extra)
    del conn["extra"]["host_key"]  # type: ignore[attr-defined]
    conn_id = use_connection(conn)
    with pytest.raises(ValueError, match=f"connection '{conn_id}' turns SSH host key verification"):
        SlurmHook(conn_id).run(["true"])


def test_the_private_key_of_the_connection_leaks_nowhere(
    slurm_cluster: localcluster.ClusterInfo,
    use_connection,
    airflow_db: Path,
    metadata_database: tuple[postgres.PostgresServer, str],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    metadata_server, metadata_name = metadata_database
    key_text = slurm_cluster.key_file.read_text()
    secret_lines = [line for line in key_text.splitlines() if line and "PRIVATE KEY" not in line]
    conn = connection(slurm_cluster, private_key=key_text)
    del conn["extra"]["key_file"]  # type: ignore[attr-defined]
    conn_id = use_connection(conn)
    workdir = localcluster.make_workdir("secrets")
    try:
        spec = ArraySpec(
            "env",
            (WorkItem("env", ("env",), Resources(mem="50M", time="5")),),
            log_dir=str(workdir / "logs"),
            workdir=str(workdir),
        )
        dag_id = new_dag_id("secrets")
        state, report = run_array_dag(dag_id, spec, ssh_conn_id=conn_id)
        assert state == "success", report

        task_log = "".join(capfd.readouterr())  # dag.test() logs the task to the console
        assert "env: 1/1 done" in task_log
        assert not any(line in task_log for line in secret_lines)
        places = {
            "metadata DB (XCom, serialized DAGs, rendered fields)": [
                metadata_server.dump(metadata_name, tmp_path / "metadata.sql")
            ],
            "job scripts and job logs": sorted(p for p in workdir.rglob("*") if p.is_file()),
        }
        assert places["job scripts and job logs"]
        leaks = [
            f"{where}: {path}"
            for where, paths in places.items()
            for path in paths
            if any(line.encode() in path.read_bytes() for line in secret_lines)
        ]
        assert leaks == []
    finally:
        localcluster.remove_workdir(workdir)
