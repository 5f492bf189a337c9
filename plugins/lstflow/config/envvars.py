"""``${VAR}`` in path strings, so a committed config can be portable (``${LSTFLOW_DATA_ROOT}``).

Expansion runs after the parse cache: the cache holds the text as written, and a changed
environment takes effect without a re-parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from lstflow.config.errors import ConfigIssue
from lstflow.config.model import (
    PATH_FIELDS,
    Loaded,
    ProductionConfig,
    ProductionHeader,
    StageEntry,
)

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Expander:
    """Expands strings, remembering each unset variable with where it was first used."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.unset: dict[str, list[str]] = {}

    def __call__(self, value: str, yaml_path: str) -> str:
        if "${" not in value:
            return value

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.environ:
                return self.environ[name]
            self.unset.setdefault(name, []).append(yaml_path)
            return match.group(0)

        return _VARIABLE.sub(substitute, value)

    def issues(self) -> list[ConfigIssue]:
        issues = []
        for name, paths in self.unset.items():
            more = f" (and {len(paths) - 1} more places)" if len(paths) > 1 else ""
            issues.append(
                ConfigIssue(
                    paths[0],
                    f"environment variable '{name}' is not set{more}",
                    f"export {name}=... before running lstflow, or write the path out",
                )
            )
        return issues


class KeepUnset(Mapping[str, str]):
    """An environment in which an unset ``${NAME}`` stays as written and is remembered.

    For commands that show configs rather than run them (``lstflow productions list``): a shell
    without the site's variables still sees the library, with those paths as written.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.unset: set[str] = set()

    def __getitem__(self, name: str) -> str:
        if name in self.environ:
            return self.environ[name]
        self.unset.add(name)
        return f"${{{name}}}"

    def __iter__(self) -> Iterator[str]:
        return iter(self.environ)

    def __len__(self) -> int:
        return len(self.environ)


def expand_string(value: str, environ: Mapping[str, str]) -> str:
    """``value`` with every set ``${VAR}`` replaced (unset ones are left as written)."""
    return _Expander(environ)(value, "")


def expand_production(
    config: ProductionConfig, environ: Mapping[str, str]
) -> tuple[ProductionConfig, list[ConfigIssue]]:
    """``config`` with ``${VAR}`` expanded in every path, plus one issue per unset variable."""
    expand = _Expander(environ)
    expanded = _expand_header_fields(config, expand)
    stages = {
        stage: tuple(_expand_entry(entry, expand) for entry in entries)
        for stage, entries in config.stages.items()
    }
    return replace(expanded, stages=stages), expand.issues()


def expand_header(
    header: ProductionHeader, environ: Mapping[str, str]
) -> tuple[ProductionHeader, list[ConfigIssue]]:
    """``header`` with ``${VAR}`` expanded in its paths, plus one issue per unset variable."""
    expand = _Expander(environ)
    return _expand_header_fields(header, expand), expand.issues()


def _expand_header_fields(loaded: Loaded, expand: _Expander) -> Loaded:
    source = loaded.source_environment
    tune_data, tune_mc = loaded.dl1_noise_tune_data_run, loaded.dl1_noise_tune_mc_run
    return replace(
        loaded,
        source_environment=replace(
            source, source_file=expand(source.source_file, "source_environment.source_file")
        ),
        dl1_noise_tune_data_run=tune_data and expand(tune_data, "dl1_noise_tune_data_run"),
        dl1_noise_tune_mc_run=tune_mc and expand(tune_mc, "dl1_noise_tune_mc_run"),
    )


def _expand_entry(entry: StageEntry, expand: _Expander) -> StageEntry:
    changes: dict[str, Any] = {}
    for name, key in entry.YAML_KEYS:
        value = getattr(entry, name)
        if name in PATH_FIELDS and isinstance(value, str) and "${" in value:
            changes[name] = expand(value, f"stages.{entry.STAGE}[{entry.index}].{key}")
    return replace(entry, **changes) if changes else entry
