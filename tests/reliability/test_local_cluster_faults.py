"""Faults of the local cluster itself: daemons killed with -9, a foreign process on its port,
``down`` with jobs still running; on a throw-away isolated cluster, never the shared one."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import support.isolated_cluster
from support.cluster_ssh import run_over_ssh

from lstflow_dev import localcluster

pytestmark = pytest.mark.reliability


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def processes_running(argv: list[str]) -> list[int]:
    wanted = "\0".join(argv).encode() + b"\0"
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes() == wanted:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.fixture
def isolated_cluster() -> Iterator[Path]:
    """A second, throw-away cluster (own root and ports) that a test may break and stop."""
    with support.isolated_cluster.isolated_cluster(accounting="none") as root:
        yield root


def test_cluster_recovers_from_kill_9_refuses_foreign_ports_and_stops_its_jobs(
    isolated_cluster: Path,
) -> None:
    localcluster.up()
    first = localcluster.status()["daemons"]
    for pid in first.values():
        os.kill(pid, signal.SIGKILL)

    info = localcluster.up()  # stale PID files and sockets, maybe zombies
    second = localcluster.status()

    assert second["up"] is True
    assert set(second["daemons"].values()).isdisjoint(first.values())

    job_argv = ["sleep", str(3000 + os.getpid() % 1000)]
    rc, _, err = run_over_ssh(
        info, f"sbatch --parsable --chdir=/ --output=/dev/null --wrap '{' '.join(job_argv)}'"
    )
    assert rc == 0, err
    wait_for(lambda: bool(processes_running(job_argv)), 30, "the job to start")

    sshd = second["daemons"]["sshd"]
    os.kill(sshd, signal.SIGTERM)
    wait_for(lambda: localcluster.status()["daemons"]["sshd"] is None, 20, "sshd to stop")
    # The holder is this process (its name is "python", or xdist's worker title).
    foreign_holder = rf"port {info.port} needed by sshd is held by .+ \(pid {os.getpid()}\)"
    with (
        socket.create_server(("127.0.0.1", info.port)),
        pytest.raises(localcluster.ClusterError, match=foreign_holder),
    ):
        localcluster.up()
    localcluster.up()

    localcluster.down()

    stopped = localcluster.status()
    assert stopped["up"] is False
    assert set(stopped["daemons"].values()) == {None}
    wait_for(lambda: not processes_running(job_argv), 30, "the cancelled job to end")
