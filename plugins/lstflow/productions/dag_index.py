"""Which config files make which DAG, so a worker running one task reads only those configs.

The dag-processor, which reads every header, writes ``dag-index.json`` into the parse cache
directory: each DAG id with the configs of its production (usually one; several when configs
share a prod_id). A worker (``get_parsing_context().dag_id`` set) looks its DAG up there and
reads those files. A missing, stale or unreadable index (or an entry of another shape) only
costs the worker a read of every header.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

INDEX_NAME = "dag-index.json"


def read_index(cache_dir: Path) -> dict[str, list[str]]:
    try:
        index = json.loads((cache_dir / INDEX_NAME).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(index, dict):
        return {}
    return {
        dag_id: paths
        for dag_id, paths in index.items()
        if isinstance(paths, list) and all(isinstance(path, str) for path in paths)
    }


def write_index(cache_dir: Path, index: dict[str, list[str]]) -> None:
    """Atomically store ``index`` (DAG id -> config paths) when it changed; errors are ignored."""
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
