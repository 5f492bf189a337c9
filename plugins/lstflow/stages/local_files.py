"""A ``FileLister`` over the local filesystem, for ``lstflow plan`` run where the data lives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class LocalFileLister:
    def list_files(self, directory: str, patterns: Sequence[str]) -> list[str] | None:
        path = Path(directory)
        if not path.is_dir():
            return None
        found = {str(match) for pattern in patterns for match in path.glob(pattern)}
        return sorted(found)
