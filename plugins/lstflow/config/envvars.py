"""``${VAR}`` in path strings, so a committed config can be portable (``${LSTFLOW_DATA_ROOT}``).

Expansion runs after the parse cache: the cache holds the text as written, and a changed
environment takes effect without a re-parse.

Only an allow-list is expanded: ``LSTFLOW_*`` and the names ``[lstflow] config_variables``
of ``airflow.cfg`` (or ``AIRFLOW__LSTFLOW__CONFIG_VARIABLES``) defines. The Airflow processes'
environment also holds secrets (``AIRFLOW__API_AUTH__JWT_SECRET``, ...): a path naming one would
put it in a page or a job's command line. The names are read here without importing Airflow,
so ``lstflow validate`` refuses what the DAG files refuse.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import cache
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


ALLOWED_PREFIX = "LSTFLOW_"
OPTION = "config_variables"
OPTION_VARIABLE = "AIRFLOW__LSTFLOW__CONFIG_VARIABLES"


def _names(text: str) -> frozenset[str]:
    """The NAMEs of ``NAME = value`` lines (the option's format)."""
    return frozenset(
        name.strip() for line in text.splitlines() if (name := line.partition("=")[0]).strip()
    )


@cache
def _option_in_file(path: str, mtime_ns: int) -> frozenset[str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path)
    except configparser.Error:
        return frozenset()
    return _names(parser.get("lstflow", OPTION, fallback=""))


def allowed_variables(environ: Mapping[str, str]) -> frozenset[str]:
    """The names besides ``LSTFLOW_*`` configs may use: those of ``[lstflow] config_variables``."""
    if OPTION_VARIABLE in environ:
        return _names(environ[OPTION_VARIABLE])
    home = environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    path = os.path.join(home, "airflow.cfg")
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return frozenset()
    return _option_in_file(path, mtime)


class _Expander:
    """Expands strings, remembering each unset or refused variable with where it was used."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.allowed = allowed_variables(environ)
        self.unset: dict[str, list[str]] = {}
        self.refused: dict[str, list[str]] = {}

    def __call__(self, value: str, yaml_path: str) -> str:
        if "${" not in value:
            return value

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if not name.startswith(ALLOWED_PREFIX) and name not in self.allowed:
                self.refused.setdefault(name, []).append(yaml_path)
                return match.group(0)
            if name in self.environ:
                return self.environ[name]
            self.unset.setdefault(name, []).append(yaml_path)
            return match.group(0)

        return _VARIABLE.sub(substitute, value)

    def issues(self) -> list[ConfigIssue]:
        issues = [
            ConfigIssue(
                paths[0],
                f"environment variable '{name}' may not be used in a config",
                f"use a {ALLOWED_PREFIX}* variable, or define {name} in [lstflow] {OPTION} "
                f"of airflow.cfg ('lstflow init --config-variable {name}=VALUE') if no secret",
            )
            for name, paths in self.refused.items()
        ]
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
