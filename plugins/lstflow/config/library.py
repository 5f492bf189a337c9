"""A production library: every config under a directory, by prod_id.

One bad file never hides the others. Configs sharing a prod_id are the parts of one production
(``lstflow.config.parts``); parts that disagree on what must agree are an error on each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from lstflow.config.errors import ConfigError
from lstflow.config.loader import load_header, load_production
from lstflow.config.model import Loaded, ProductionConfig, ProductionHeader
from lstflow.config.parts import ProductionParts, disagreements, group_parts

YAML_SUFFIXES = (".yml", ".yaml")


@dataclass
class Library:
    root: Path
    productions: dict[str, ProductionParts[ProductionConfig]] = field(default_factory=dict)
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
    files: Iterable[Path], *, cache_dir: Path | None = None
) -> tuple[dict[Path, ProductionConfig], dict[Path, ConfigError]]:
    """Load each file; configs of one prod_id that disagree move to the errors."""
    return _load_each(files, partial(load_production, cache_dir=cache_dir))


def load_headers(
    root: Path, *, cache_dir: Path | None = None
) -> tuple[dict[Path, ProductionHeader], dict[Path, ConfigError]]:
    """``load_files`` for the headers of the configs under ``root`` (``load_header``)."""
    return _load_each(discover(root), partial(load_header, cache_dir=cache_dir))


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
    disagreeing = disagreements(loaded.values())
    for path, error in disagreeing.items():
        errors[path] = error
        del loaded[path]
    return loaded, errors


def load_library(root: Path, *, cache_dir: Path | None = None) -> Library:
    """Every production under ``root``, keyed by prod_id, and every file that failed."""
    root = Path(os.path.abspath(root))
    loaded, errors = load_files(discover(root), cache_dir=cache_dir)
    library_root = root.parent if root.is_file() else root
    return Library(root=root, productions=group_parts(loaded.values(), library_root), errors=errors)
