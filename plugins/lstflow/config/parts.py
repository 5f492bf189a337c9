"""Configs sharing a prod_id are the parts of one production.

Analysts rerun part of a production with a second config of the same prod_id (a
``..._fix_dl1_dl2.yaml`` beside the full config, a ``merge_restart.yml`` in another directory):
lstmcpipe cannot rerun a subset otherwise. Such configs make one production, one DAG, whose runs
each pick one config. The rules, documented in the README:

- the **default** config is the one whose ``stages_to_run`` cover every other part's (several:
  the alphabetically first of them by label); when none covers the others, the alphabetically
  first;
- a config's **label** (what the DAG's ``config`` param offers) is its path relative to the
  library root;
- the parts must agree on what makes them one production (``MUST_AGREE``): the workflow kind and
  the analysis environment. A disagreement is an error on every part, naming the other file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic

from lstflow.config.errors import ConfigError, ConfigIssue
from lstflow.config.model import STAGE_ORDER, Loaded, ProductionHeader, SourceEnvironment


def _environment(env: SourceEnvironment) -> str:
    return f"{{source_file: {env.source_file}, conda_env: {env.conda_env or 'none'}}}"


# YAML key -> how to read it from a config, as a comparable text.
MUST_AGREE: dict[str, Callable[[ProductionHeader], str]] = {
    "workflow_kind": lambda config: config.workflow_kind,
    "source_environment": lambda config: _environment(config.source_environment),
}


@dataclass(frozen=True)
class ProductionParts(Generic[Loaded]):
    """Every config of one prod_id, sorted by label, and the one a run uses by default."""

    prod_id: str
    root: Path
    configs: tuple[Loaded, ...]
    default: Loaded

    def label(self, config: ProductionHeader) -> str:
        return config_label(config.path, self.root)

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of every part, the default first (the trigger form's choices)."""
        others: list[str] = [
            self.label(config) for config in self.configs if config is not self.default
        ]
        return (self.label(self.default), *others)

    def find(self, label: str) -> Loaded:
        """The part labelled ``label``; ``LookupError`` names the choices."""
        for config in self.configs:
            if self.label(config) == label:
                return config
        raise LookupError(
            f"prod_id '{self.prod_id}' has no config '{label}' (choices: {', '.join(self.labels)})"
        )

    @property
    def stages_to_run(self) -> tuple[str, ...]:
        """The union of the parts' stages, in lstmcpipe's order."""
        stages = {stage for config in self.configs for stage in config.stages_to_run}
        return tuple(stage for stage in STAGE_ORDER if stage in stages)


def config_label(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, else the absolute path."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def common_root(paths: Iterable[Path]) -> Path:
    """The deepest directory holding every path (the library root of a ``validate`` call)."""
    parents = [str(path.parent) for path in paths]
    return Path(os.path.commonpath(parents)) if parents else Path("/")


def default_part(configs: Iterable[Loaded], root: Path) -> Loaded:
    """The config whose stages cover the others', else the alphabetically first by label."""
    ordered = sorted(configs, key=lambda config: config_label(config.path, root))
    union = {stage for config in ordered for stage in config.stages_to_run}
    covering = [config for config in ordered if set(config.stages_to_run) >= union]
    return (covering or ordered)[0]


def group_parts(configs: Iterable[Loaded], root: Path) -> dict[str, ProductionParts[Loaded]]:
    """The productions of agreeing configs, by prod_id (see ``disagreements`` first)."""
    by_prod_id: dict[str, list[Loaded]] = {}
    for config in configs:
        by_prod_id.setdefault(config.prod_id, []).append(config)
    productions: dict[str, ProductionParts[Loaded]] = {}
    for prod_id, parts in sorted(by_prod_id.items()):
        ordered = tuple(sorted(parts, key=lambda config: config_label(config.path, root)))
        productions[prod_id] = ProductionParts(prod_id, root, ordered, default_part(ordered, root))
    return productions


def disagreements(configs: Iterable[ProductionHeader]) -> dict[Path, ConfigError]:
    """An error for every config of a prod_id whose parts disagree on a ``MUST_AGREE`` key."""
    by_prod_id: dict[str, list[ProductionHeader]] = {}
    for config in configs:
        by_prod_id.setdefault(config.prod_id, []).append(config)
    errors: dict[Path, ConfigError] = {}
    for prod_id, parts in by_prod_id.items():
        parts.sort(key=lambda config: str(config.path))
        issues: dict[Path, list[ConfigIssue]] = {}
        for key, read in MUST_AGREE.items():
            for config in parts:
                other = next((o for o in parts if read(o) != read(config)), None)
                if other is None:
                    continue
                issues.setdefault(config.path, []).append(
                    ConfigIssue(
                        key,
                        f"{read(config)} differs from {read(other)} in {other.path}, which "
                        f"shares the prod_id '{prod_id}'",
                        f"configs sharing a prod_id are parts of one production and must use "
                        f"the same {key}: make them agree, or give one its own prod_id",
                    )
                )
        errors.update({path: ConfigError(path, found) for path, found in issues.items()})
    return errors
