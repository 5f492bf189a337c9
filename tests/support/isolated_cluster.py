"""A second, throw-away local Slurm cluster (own root, own ports) that a test may break.

The machine-wide cluster is shared by concurrent test runs: a test that restarts or kills
daemons does it here. ``lstflow_dev.localcluster`` reads its settings from the environment at
each call, so while the context is open every ``localcluster`` call (``up``, ``status``, ``down``)
addresses the isolated cluster; the previous environment is restored afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lstflow_dev import localcluster

PORT_NAMES = ("SSH", "SLURMCTLD", "SLURMD", "SLURMDBD", "MARIADB")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextmanager
def isolated_cluster(accounting: str = "none") -> Iterator[Path]:
    """Point ``localcluster`` at a fresh root and free ports; wipe that cluster at the end.

    Without cgroups, so it never touches the shared cluster's cgroup directories. Accounting
    (``slurmdbd``, for sacct) costs about 2 s of bring-up; ``none`` keeps it quicker.
    """
    root = Path(f"{localcluster.cluster_root()}-isolated-{uuid.uuid4().hex[:8]}")
    overrides = {
        "LSTFLOW_CLUSTER_ROOT": str(root),
        "LSTFLOW_CLUSTER_CGROUP": "no",
        "LSTFLOW_CLUSTER_ACCOUNTING": accounting,
    }
    for name, port in zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True):
        overrides[f"LSTFLOW_CLUSTER_{name}_PORT"] = str(port)
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield root
    finally:
        try:
            localcluster.down(wipe=True)
            shutil.rmtree(root, ignore_errors=True)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
