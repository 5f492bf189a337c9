"""The production library as the Productions page shows it: one row per production (the
configs sharing a prod_id are its parts, the default first).

Configs are read through ``lstflow.config.load_library`` with the DAG factory's parse cache and
settings, so the page lists exactly what the dag-processor builds DAGs from.
"""

from __future__ import annotations

from dataclasses import dataclass

from lstflow.config import ConfigError, load_header, load_library
from lstflow.config.contained_files import read_readme
from lstflow.config.library import Library
from lstflow.config.model import ProductionConfig
from lstflow.config.parts import ProductionParts
from lstflow.product_base.options import (
    config_environment,
    parse_cache_dir,
    production_configs_dir,
)
from lstflow.productions.naming import dag_id_for
from lstflow.stages.registry import stages_to_run


@dataclass(frozen=True)
class ProductionRow:
    """``config_path``, ``entry_counts`` and ``readme`` are the default config's; ``stages`` the
    union of every part's; ``configs`` the labels of the parts, the default first."""

    prod_id: str
    dag_id: str
    config_path: str
    stages: tuple[str, ...]
    entry_counts: dict[str, int]
    environment: str
    readme: str
    configs: tuple[str, ...] = ()
    # Set when the config's header is valid (it has a DAG) but an entry is not: the page lists
    # the production with its problem instead of leaving it out.
    problem: str = ""


def read_library() -> Library:
    return load_library(
        production_configs_dir(), cache_dir=parse_cache_dir(), environ=config_environment()
    )


def production_row(production: ProductionParts[ProductionConfig]) -> ProductionRow:
    default = production.default
    readme = read_readme(default.readme) if default.readme else ""
    return ProductionRow(
        prod_id=production.prod_id,
        dag_id=dag_id_for(production.prod_id),
        config_path=str(default.path),
        stages=stages_to_run(production),
        entry_counts=default.entry_counts(),
        environment=default.source_environment.label,
        readme=readme,
        configs=production.labels,
    )


def invalid_entry_rows(library: Library) -> list[ProductionRow]:
    """Configs that failed to load but whose header is valid: they have a DAG (built from the
    header), so the Productions page lists them, with the problem."""
    rows = []
    known = set(library.productions)
    for path, error in sorted(library.errors.items()):
        try:
            header = load_header(path, cache_dir=parse_cache_dir(), environ=config_environment())
        except ConfigError:
            continue
        if header.prod_id in known:
            continue
        rows.append(
            ProductionRow(
                prod_id=header.prod_id,
                dag_id=dag_id_for(header.prod_id),
                config_path=str(path),
                stages=stages_to_run(header),
                entry_counts={},
                environment=header.source_environment.label,
                readme=header.readme.read_text(errors="replace") if header.readme else "",
                problem=str(error),
            )
        )
    return rows


def production_for_dag(library: Library, dag_id: str) -> ProductionParts[ProductionConfig] | None:
    """The production whose DAG is ``dag_id`` (DAG links carry the DAG id, not the prod_id)."""
    for production in library.productions.values():
        if dag_id_for(production.prod_id) == dag_id:
            return production
    return None
