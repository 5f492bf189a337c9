"""A ``FileLister`` over the local filesystem, for ``lstflow plan`` run where the data lives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class LocalFileLister:
    def list_directories(
        self, directories: Sequence[str], patterns: Sequence[str]
    ) -> dict[str, list[str] | None]:
        listings: dict[str, list[str] | None] = {}
        for directory in directories:
            path = Path(directory)
            if path.is_dir():
                found = {str(match) for pattern in patterns for match in path.glob(pattern)}
                listings[directory] = sorted(found)
            else:
                listings[directory] = None
        return listings
