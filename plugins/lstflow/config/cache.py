"""Parse cache: an unchanged config costs a ``stat`` and an unpickle, not a YAML parse.

The DAG processor re-parses the whole library every 30 s; YAML parsing dominates that cost. The
key is (absolute path, size, mtime_ns, lstflow version, cache format), so any edit, move or
upgrade misses. Both outcomes are cached: a valid config (or header) and the issues of an
invalid one. Full configs and headers (``load_header``) are cached apart.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from lstflow import __version__
from lstflow.config.errors import ConfigError, ConfigIssue
from lstflow.config.model import ProductionHeader

# Bump when the pickled classes change shape or validation checks more (4: entry options).
CACHE_FORMAT = 4

CachedResult = ProductionHeader | ConfigError  # a ProductionConfig is a ProductionHeader


def cache_file(cache_dir: Path, path: Path, stat: os.stat_result, kind: str) -> Path:
    """Where the ``kind`` result (a class name) of ``path`` as it is now is cached."""
    key = f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{__version__}\0{CACHE_FORMAT}\0{kind}"
    return cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.pickle"


def read_cached(file: Path) -> CachedResult | None:
    """The cached result, or ``None`` on a miss or an unreadable entry (never an exception)."""
    try:
        with file.open("rb") as stream:
            kind, payload = pickle.load(stream)
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or stale entry is just a miss
        return None
    if kind == "ok" and isinstance(payload, ProductionHeader):
        return payload
    if kind == "error" and isinstance(payload, tuple) and len(payload) == 2:
        path, issues = payload
        if all(isinstance(issue, ConfigIssue) for issue in issues):
            return ConfigError(path, issues)
    return None


def write_cached(file: Path, result: CachedResult) -> None:
    """Atomically store ``result``; a cache that cannot be written is silently skipped."""
    payload = (
        ("ok", result)
        if isinstance(result, ProductionHeader)
        else ("error", (result.path, result.issues))
    )
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=".tmp-", suffix=".pickle")
        try:
            with os.fdopen(fd, "wb") as stream:
                pickle.dump(payload, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, file)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return
