"""The production library as the Productions page shows it: one row per config.

Configs are read through ``lstflow.config.load_library`` with the DAG factory's parse cache and
settings, so the page lists exactly what the dag-processor builds DAGs from.
"""

from __future__ import annotations

from dataclasses import dataclass

from lstflow.config import load_library
from lstflow.config.library import Library
from lstflow.config.model import ProductionConfig
from lstflow.config.parts import ProductionParts
from lstflow.product_base.options import parse_cache_dir, production_configs_dir
from lstflow.productions.naming import dag_id_for
from lstflow.stages.registry import stages_to_run


@dataclass(frozen=True)
class ProductionRow:
    prod_id: str
    dag_id: str
    config_path: str
    stages: tuple[str, ...]
    entry_counts: dict[str, int]
    environment: str
    readme: str


def read_library() -> Library:
    return load_library(production_configs_dir(), cache_dir=parse_cache_dir())


def production_row(production: ProductionConfig) -> ProductionRow:
    readme = production.readme.read_text(errors="replace") if production.readme else ""
    return ProductionRow(
        prod_id=production.prod_id,
        dag_id=dag_id_for(production.prod_id),
        config_path=str(production.path),
        stages=stages_to_run(production),
        entry_counts=production.entry_counts(),
        environment=production.source_environment.label,
        readme=readme,
    )


def production_for_dag(library: Library, dag_id: str) -> ProductionParts[ProductionConfig] | None:
    """The production whose DAG is ``dag_id`` (DAG links carry the DAG id, not the prod_id)."""
    for production in library.productions.values():
        if dag_id_for(production.prod_id) == dag_id:
            return production
    return None
