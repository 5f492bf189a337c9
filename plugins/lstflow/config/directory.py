"""The file names in a production's directory, listed once per change of the directory.

The DAG file looks for the lstchain JSON and the README of every config on every parse, and a
config without a README looks in its parent, which in a library holds every production: listing
it again for each config would cost O(configs^2). A listing is reused while the directory's
mtime (changed by any file added, removed or renamed in it) stays the same.
"""

from __future__ import annotations

import os
from pathlib import Path

_listings: dict[tuple[Path, str], tuple[int, list[Path]]] = {}


def names_ending(directory: Path, suffix: str) -> list[Path]:
    """The entries of ``directory`` whose name ends with ``suffix``, sorted (none if unreadable)."""
    try:
        mtime = directory.stat().st_mtime_ns
        cached = _listings.get((directory, suffix))
        if cached is not None and cached[0] == mtime:
            return cached[1]
        names = os.listdir(directory)
    except OSError:
        return []
    found = sorted(directory / name for name in names if name.endswith(suffix))
    _listings[directory, suffix] = (mtime, found)
    return found
