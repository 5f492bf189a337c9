"""Load one production config: read, parse (or take from the cache), validate, expand, locate."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from lstflow.config.cache import cache_file, read_cached, write_cached
from lstflow.config.envvars import expand_production
from lstflow.config.errors import ConfigError, ConfigIssue
from lstflow.config.lstchain_json import check_json_syntax, find_lstchain_config
from lstflow.config.model import ProductionConfig
from lstflow.config.schema import build_production
from lstflow.config.yaml_loader import parse_yaml


def load_production(
    path: Path,
    *,
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProductionConfig:
    """The validated production in ``path``; raises ``ConfigError`` listing every problem.

    ``environ`` (default ``os.environ``) supplies ``${VAR}`` in paths.
    """
    path = Path(os.path.abspath(path))
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(path, [ConfigIssue("", f"cannot read: {exc.strerror}", None)]) from None
    cached = cache_file(cache_dir, path, stat) if cache_dir is not None else None
    result = read_cached(cached) if cached is not None else None
    if result is None:
        result = _parse(path)
        if cached is not None:
            write_cached(cached, result)
    if isinstance(result, ConfigError):
        raise result

    config, issues = expand_production(result, os.environ if environ is None else environ)
    lstchain_config, missing = find_lstchain_config(path.parent)
    if missing is not None:
        issues.append(missing)
    elif lstchain_config is not None and (bad := check_json_syntax(lstchain_config)) is not None:
        issues.append(bad)
    if issues:
        raise ConfigError(path, issues)
    return replace(config, lstchain_config=lstchain_config, readme=find_readme(path))


def _parse(path: Path) -> ProductionConfig | ConfigError:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ConfigError(path, [ConfigIssue("", f"cannot read: {exc.strerror}", None)])
    try:
        return build_production(parse_yaml(path, data), path)
    except ConfigError as exc:
        return exc


def find_readme(path: Path) -> Path | None:
    """The production's README: beside the YAML, else one level up (NSB-grid subdirectories)."""
    for directory in (path.parent, path.parent.parent):
        readmes = sorted(
            candidate
            for candidate in directory.glob("*.md")
            if candidate.name.lower().startswith("readme")
        )
        if readmes:
            return readmes[0]
    return None


def readme_title(readme: Path | None) -> str:
    """First non-empty line of the README, without Markdown heading marks."""
    if readme is None:
        return ""
    try:
        with readme.open(encoding="utf-8", errors="replace") as stream:
            for line in stream:
                if line.strip():
                    return line.strip().lstrip("#").strip()
    except OSError:
        return ""
    return ""
