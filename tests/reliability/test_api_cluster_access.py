"""The api-server's cluster access is bounded (issue #15, attack 3).

Before, every cluster read of a page built a new SSH connection that was never closed: 230
requests for unknown run ids left 231 open connections. Here, in this process as in an
api-server: many page reads over the real local cluster's SSH use one connection, reads of
unknown run ids reach no cluster at all, and the page caches stay within their bounds.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psutil
import pytest

from lstflow.ui import live, run_files, views
from lstflow.ui.cluster_access import BoundedCache
from lstflow_dev import localcluster

pytestmark = pytest.mark.reliability


def ssh_connections(port: int) -> int:
    """This process's established TCP connections to the cluster's sshd."""
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )


def test_many_page_reads_use_one_ssh_connection(
    slurm_cluster: localcluster.ClusterInfo, cluster_workdir: Path
) -> None:
    port = int(localcluster.cluster_env()["SLURM_SSH_PORT"])
    before = ssh_connections(port)
    files = []
    for number in range(40):
        path = cluster_workdir / f"provenance_{number}.json"
        path.write_text(f'{{"number": {number}}}')
        files.append(path)
    for path in files:  # 40 distinct reads: each a cache miss, a command over SSH
        assert run_files.read_json(str(path)) == {"number": int(path.stem.split("_")[1])}
    for number in range(20):  # sacct queries of 20 distinct job sets
        live.element_states([str(900_000_000 + number)])
    assert ssh_connections(port) - before <= 1


def test_unknown_run_ids_read_nothing_from_the_cluster(
    slurm_cluster: localcluster.ClusterInfo, airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    monkeypatch.setattr(run_files, "_read_over_ssh", lambda path: reads.append(path))
    for _ in range(230):
        with pytest.raises(views.NotFound, match="has no run"):
            views.provenance_document("lstflow_demo_dl1", f"made_up_{uuid.uuid4().hex}")
    assert reads == []


def test_the_page_cache_is_bounded_in_entries_and_bytes() -> None:
    cache: BoundedCache[bytes] = BoundedCache(60.0, max_entries=8, max_size=1000, size=len)
    for number in range(100):
        cache.get(number, lambda: b"x" * 100)
    assert len(cache.values) == 8 and cache.total == 800
    cache.get("big", lambda: b"x" * 5000)  # larger than the whole budget: not kept
    assert "big" not in cache.values and cache.total <= 1000
    for number in range(100):
        cache.get(("wide", number), lambda: b"x" * 400)
    assert cache.total <= 1000 and len(cache.values) == 2
