"""Load one production config: read, parse (or take from the cache), validate, expand, locate.

``load_production`` reads everything; ``load_header`` reads all but the stage entries, which is
what the DAG factory needs (``lstflow.config.header_text`` cuts them out of the text).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from lstflow.config.cache import cache_file, read_cached, write_cached
from lstflow.config.contained_files import (
    MAX_LSTCHAIN_JSON_BYTES,
    MAX_README_BYTES,
    contained_issue,
    outside_issue,
)
from lstflow.config.directory import names_ending
from lstflow.config.envvars import expand_header, expand_production
from lstflow.config.errors import ConfigError, ConfigIssue
from lstflow.config.header_text import split_header
from lstflow.config.lstchain_json import KEY as JSON_KEY
from lstflow.config.lstchain_json import check_json_syntax, find_lstchain_config
from lstflow.config.model import Loaded, ProductionConfig, ProductionHeader
from lstflow.config.schema import build_header, build_production
from lstflow.config.yaml_loader import decode, parse_text


def load_production(
    path: Path,
    *,
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProductionConfig:
    """The validated production in ``path``; raises ``ConfigError`` listing every problem.

    ``environ`` (default ``os.environ``) supplies ``${VAR}`` in paths.
    """
    path, config = _parsed(path, cache_dir, ProductionConfig, _parse)
    return _located(path, *expand_production(config, _environ(environ)))


def load_header(
    path: Path,
    *,
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProductionHeader:
    """The production in ``path`` without its entries, with the same checks and messages.

    Every problem ``load_production`` finds is found here too, except those inside the stage
    entries (``stages.<stage>[i]``, YAML syntax there included): those show when the stage runs,
    in ``lstflow validate`` and in the config-errors DAG.
    """
    path, header = _parsed(path, cache_dir, ProductionHeader, _parse_header)
    return _located(path, *expand_header(header, _environ(environ)))


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _parsed(
    path: Path,
    cache_dir: Path | None,
    kind: type[Loaded],
    parse: Callable[[Path, str], Loaded],
) -> tuple[Path, Loaded]:
    """The validated, unexpanded result of ``parse``, through the parse cache."""
    path = Path(os.path.abspath(path))
    outside = outside_issue(path, path.parent, "")
    if outside is not None:  # checked before reading: a YAML error would quote the target
        raise ConfigError(path, [outside])
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(path, [ConfigIssue("", f"cannot read: {exc.strerror}", None)]) from None
    cached = cache_file(cache_dir, path, stat, kind.__name__) if cache_dir is not None else None
    result = read_cached(cached) if cached is not None else None
    if not isinstance(result, kind | ConfigError):
        result = _outcome(path, parse)
        if cached is not None:
            write_cached(cached, result)
    if isinstance(result, ConfigError):
        raise result
    return path, result


def _outcome(path: Path, parse: Callable[[Path, str], Loaded]) -> Loaded | ConfigError:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ConfigError(path, [ConfigIssue("", f"cannot read: {exc.strerror}", None)])
    try:
        return parse(path, decode(path, data))
    except ConfigError as exc:
        return exc


def _parse(path: Path, text: str) -> ProductionConfig:
    return build_production(parse_text(path, text), path)


def _parse_header(path: Path, text: str) -> ProductionHeader:
    """Only the header is YAML-parsed when the text is plain, else the whole document."""
    split = split_header(text)
    if split is None:
        return build_header(parse_text(path, text), path)
    header_text, stage_names = split
    raw = parse_text(path, header_text)
    if not isinstance(raw, dict) or "stages" not in raw or raw["stages"] is not None:
        return build_header(parse_text(path, text), path)  # "stages:" was not the key it seemed
    # Placeholder lists: the entries are not read here.
    return build_header({**raw, "stages": {name: [None] for name in stage_names}}, path)


def _located(path: Path, loaded: Loaded, issues: list[ConfigIssue]) -> Loaded:
    """``loaded`` with its lstchain config and README; ``ConfigError`` if any issue remains."""
    lstchain_config, missing = find_lstchain_config(path.parent)
    if missing is not None:
        issues.append(missing)
    elif lstchain_config is not None:
        contained = contained_issue(lstchain_config, path.parent, JSON_KEY, MAX_LSTCHAIN_JSON_BYTES)
        if (bad := contained or check_json_syntax(lstchain_config)) is not None:
            issues.append(bad)
    readme = find_readme(path)
    if readme is not None and (
        bad := contained_issue(readme, readme.parent, "README", MAX_README_BYTES)
    ):
        issues.append(bad)
    if issues:
        raise ConfigError(path, issues)
    return replace(loaded, lstchain_config=lstchain_config, readme=readme)


def find_readme(path: Path) -> Path | None:
    """The production's README: beside the YAML, else one level up (NSB-grid subdirectories)."""
    for directory in (path.parent, path.parent.parent):
        readmes = [
            candidate
            for candidate in names_ending(directory, ".md")
            if candidate.name.lower().startswith("readme")
        ]
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
