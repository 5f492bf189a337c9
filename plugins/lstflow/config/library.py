"""A production library: every config under a directory, by prod_id.

One bad file never hides the others; a prod_id used by two files is an error on both, because
the prod_id names the DAG and the log directories.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from lstflow.config.errors import ConfigError, ConfigIssue
from lstflow.config.loader import load_header, load_production
from lstflow.config.model import Loaded, ProductionConfig, ProductionHeader

YAML_SUFFIXES = (".yml", ".yaml")


@dataclass
class Library:
    root: Path
    productions: dict[str, ProductionConfig] = field(default_factory=dict)
    errors: dict[Path, ConfigError] = field(default_factory=dict)


def discover(root: Path) -> list[Path]:
    """``*.yml``/``*.yaml`` under ``root`` (or ``root`` itself), sorted, hidden dirs skipped."""
    root = Path(os.path.abspath(root))
    if root.is_file():
        return [root]
    found: list[Path] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(name for name in subdirs if not name.startswith("."))
        found.extend(Path(directory, name) for name in files if name.endswith(YAML_SUFFIXES))
    return sorted(found)


def load_files(
    files: Iterable[Path],
    *,
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[Path, ProductionConfig], dict[Path, ConfigError]]:
    """Load each file; configs sharing a prod_id move to the errors, each naming the others.

    ``environ`` (default ``os.environ``) supplies ``${VAR}`` in paths.
    """
    return _load_each(files, partial(load_production, cache_dir=cache_dir, environ=environ))


def load_headers(
    root: Path, *, cache_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[dict[Path, ProductionHeader], dict[Path, ConfigError]]:
    """``load_files`` for the headers of the configs under ``root`` (``load_header``)."""
    return _load_each(discover(root), partial(load_header, cache_dir=cache_dir, environ=environ))


def _load_each(
    files: Iterable[Path], load: Callable[[Path], Loaded]
) -> tuple[dict[Path, Loaded], dict[Path, ConfigError]]:
    loaded: dict[Path, Loaded] = {}
    errors: dict[Path, ConfigError] = {}
    for path in files:
        try:
            config = load(path)
        except ConfigError as exc:
            errors[exc.path] = exc
        else:
            loaded[config.path] = config
    by_prod_id: dict[str, list[Path]] = {}
    for path, config in loaded.items():
        by_prod_id.setdefault(config.prod_id, []).append(path)
    for prod_id, paths in by_prod_id.items():
        if len(paths) < 2:
            continue
        for path in paths:
            others = ", ".join(str(other) for other in paths if other != path)
            issue = ConfigIssue(
                "prod_id",
                f"'{prod_id}' is also the prod_id of {others}",
                "give each production its own prod_id",
            )
            errors[path] = ConfigError(path, [issue])
            del loaded[path]
    return loaded, errors


def load_library(
    root: Path, *, cache_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> Library:
    """Every production under ``root``, keyed by prod_id, and every file that failed."""
    loaded, errors = load_files(discover(root), cache_dir=cache_dir, environ=environ)
    productions = {config.prod_id: config for config in loaded.values()}
    return Library(root=Path(os.path.abspath(root)), productions=productions, errors=errors)
