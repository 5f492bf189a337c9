"""``OnsiteFiles`` over the local filesystem, for tests of the night planner's logic.

The nightly DAG reads the onsite tree over SSH (``ClusterFiles``); this class answers the same
three questions from the disk of the test process, with the same semantics (symlinks followed,
``None`` for what is missing, reads capped at ``max_bytes``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from lstflow.onsite.files import NightFiles


@dataclass(frozen=True)
class LocalListing:
    files: frozenset[str]
    directories: frozenset[str]


class LocalOnsiteFiles:
    """Counts its calls, so tests can compare them with the SSH round trips."""

    def __init__(self) -> None:
        self.calls = 0

    def listings(self, directories: Sequence[str]) -> dict[str, LocalListing | None]:
        self.calls += 1
        result: dict[str, LocalListing | None] = {}
        for directory in directories:
            if not os.path.isdir(directory):
                result[directory] = None
                continue
            with os.scandir(directory) as entries:
                found = list(entries)
            result[directory] = LocalListing(
                frozenset(e.name for e in found if e.is_file()),
                frozenset(e.name for e in found if e.is_dir()),
            )
        return result

    def read_files(self, paths: Sequence[str], max_bytes: int) -> dict[str, bytes | None]:
        self.calls += 1
        result: dict[str, bytes | None] = {}
        for path in paths:
            result[path] = None
            try:
                if os.path.isfile(path) and os.path.getsize(path) <= max_bytes:
                    with open(path, "rb") as handle:
                        result[path] = handle.read()
            except OSError:
                pass
        return result

    def real_paths(self, paths: Sequence[str]) -> dict[str, str | None]:
        self.calls += 1
        return {p: os.path.realpath(p) if os.path.exists(p) else None for p in paths}


def local_night_files() -> NightFiles:
    """A planning call's cached view of the local disk."""
    return NightFiles(LocalOnsiteFiles())
