"""Which config file holds which DAG, so a worker running one task reads only that config.

The dag-processor, which reads every header, writes ``dag-index.json`` into the parse cache
directory; a worker (``get_parsing_context().dag_id`` set) looks its DAG up there and reads one
file. A missing, stale or unreadable index only costs the worker a read of every header.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

INDEX_NAME = "dag-index.json"


def read_index(cache_dir: Path) -> dict[str, str]:
    try:
        index = json.loads((cache_dir / INDEX_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return index if isinstance(index, dict) else {}


def write_index(cache_dir: Path, index: dict[str, str]) -> None:
    """Atomically store ``index`` (DAG id -> config path) when it changed; errors are ignored."""
    if read_index(cache_dir) == index:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as stream:
            json.dump(index, stream, sort_keys=True)
        os.replace(tmp, cache_dir / INDEX_NAME)
    except OSError:
        return
