"""The api-server's access to the cluster: one reused SSH connection, bounded caches.

Every page read used to build a new ``SlurmHook``, whose SSH client was never closed: a crawler
asking for unknown run ids left one open connection (two sshd processes on the cluster) and one
thread per request. Here each api-server process keeps one ``SlurmHook`` per connection id (its
SSH provider client is reused, and reopened only when the transport dropped), commands through
it are serialized, and the caches in front of it hold a bounded number of entries and bytes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from lstflow.product_base.options import ssh_conn_id

if TYPE_CHECKING:
    from lstflow.slurm.hook import SlurmHook

V = TypeVar("V")

_hooks: dict[str, SlurmHook] = {}
_hooks_lock = threading.Lock()
#: Serializes the cluster commands of one process: a page needs at most a few.
cluster_lock = threading.Lock()


def shared_hook() -> SlurmHook:
    """The process's ``SlurmHook`` of ``[lstflow] ssh_conn_id``; use it under ``cluster_lock``."""
    from lstflow.slurm.hook import SlurmHook  # paramiko only when a page needs the cluster

    conn_id = ssh_conn_id()
    with _hooks_lock:
        hook = _hooks.get(conn_id)
        if hook is None:
            hook = _hooks[conn_id] = SlurmHook(conn_id)
        return hook


class BoundedCache(Generic[V]):
    """A time-limited LRU cache bounded in entries and in total ``size`` of its values."""

    def __init__(
        self,
        seconds: float,
        max_entries: int,
        max_size: int,
        size: Callable[[V], int],
        keep: Callable[[V], bool] = lambda value: True,
    ) -> None:
        """``keep``: which values are cached (a missing file is not: it may appear soon)."""
        self.seconds = seconds
        self.keep = keep
        self.max_entries = max_entries
        self.max_size = max_size
        self.size = size
        self.lock = threading.Lock()
        self.values: OrderedDict[object, tuple[float, V, int]] = OrderedDict()
        self.total = 0

    def get(self, key: object, load: Callable[[], V]) -> V:
        now = time.monotonic()
        with self.lock:
            hit = self.values.get(key)
            if hit is not None and now - hit[0] < self.seconds:
                self.values.move_to_end(key)
                return hit[1]
        value = load()
        if self.keep(value):
            with self.lock:
                self._put(key, (now, value, self.size(value)))
        return value

    def _put(self, key: object, entry: tuple[float, V, int]) -> None:
        old = self.values.pop(key, None)
        if old is not None:
            self.total -= old[2]
        if entry[2] > self.max_size:
            return
        self.values[key] = entry
        self.total += entry[2]
        while len(self.values) > self.max_entries or self.total > self.max_size:
            _, (_, _, size) = self.values.popitem(last=False)
            self.total -= size
