"""Build the DAGs of a whole production library, never letting one bad config hide the others.

The productions' DAGs are built from each config's header only (``lstflow.config.load_header``):
a DAG needs the prod_id, the stages and the environment, never the entries, which each stage
task reads and validates when it runs. Configs sharing a prod_id are parts of one production
and give one DAG (``lstflow.config.parts``). So a config whose header is valid gets its DAG
even when one of its entries is wrong; that entry error fails the stage with the usual message
and is listed by the config-errors DAG, like every config that gives no DAG.

That placeholder DAG fully validates every config (within a time budget per parse, see
``build_invalid_configs_dag``) and fails its validation with all their messages (file, YAML
path, fix), so Airflow shows them as an import error. It is built by a DAG
file of its own (``dags/lstflow_config_errors.py``): Airflow 3's dag-processor marks *every* DAG
of a file that has an import error stale, so an error in the productions' own file would hide
all the good productions.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from airflow.sdk import DAG, get_parsing_context

from lstflow.config import (
    ConfigError,
    ProductionHeader,
    load_header,
    load_headers,
    load_production,
)
from lstflow.config.parts import ProductionParts, group_parts
from lstflow.product_base.options import config_environment, lineage_runs, slurm_task_settings
from lstflow.productions.dag_index import read_index, write_index
from lstflow.productions.naming import dag_id_for
from lstflow.productions.production_dag import build_production_dag

INVALID_DAG_ID = "lstflow_invalid_production_configs"
Production = ProductionParts[ProductionHeader]
log = logging.getLogger(__name__)


class InvalidProductionConfigs(DAG):
    """Never runs: its validation failure is how Airflow shows the broken configs."""

    def __init__(self, problems: list[str], unchecked: int = 0) -> None:
        super().__init__(dag_id=INVALID_DAG_ID, schedule=None, auto_register=False)
        self.problems = problems
        self.unchecked = unchecked

    def validate(self) -> None:
        count = len(self.problems)
        later = (
            f"\n({self.unchecked} more config(s) not fully validated yet: the next parses of "
            "this file check them)"
            if self.unchecked
            else ""
        )
        raise ValueError(
            f"{count} production config(s) could not be loaded or have invalid entries; the "
            "other productions are unaffected:\n" + "\n".join(self.problems) + later
        )


def build_production_dags(config_root: Path, cache_dir: Path | None = None) -> dict[str, DAG]:
    """One DAG per prod_id with valid headers; on a worker running one task, only its DAG."""
    only = get_parsing_context().dag_id
    productions = _indexed_production(only, config_root, cache_dir) if only is not None else None
    if productions is None:
        productions = _productions(config_root, cache_dir)
    owners = _dag_owners(productions)[0]
    if only is None and cache_dir is not None:
        index = {dag_id: [str(c.path) for c in parts.configs] for dag_id, parts in owners.items()}
        write_index(cache_dir, index)
    settings = slurm_task_settings()
    lineage = lineage_runs()
    dags: dict[str, DAG] = {}
    for dag_id, production in sorted(owners.items()):
        if only is not None and dag_id != only:
            continue
        try:
            dags[dag_id] = build_production_dag(production, settings, lineage=lineage)
        except (OSError, ValueError):
            log.exception("%s: cannot build the DAG %s", production.default.path, dag_id)
    return dags


def _productions(config_root: Path, cache_dir: Path | None) -> list[Production]:
    headers = load_headers(config_root, cache_dir=cache_dir, environ=config_environment())[0]
    return list(group_parts(headers.values(), config_root.absolute()).values())


def build_invalid_configs_dag(
    config_root: Path, cache_dir: Path | None = None, budget: float = float("inf")
) -> dict[str, DAG]:
    """The placeholder DAG reporting every invalid config, entries included (none if all fine).

    Headers are checked for every config; entries, the costly part, for as many configs as
    ``budget`` seconds allow (the parse cache makes the next parse carry on where this one
    stopped).
    """
    if get_parsing_context().dag_id is not None:
        return {}
    headers, errors = load_headers(config_root, cache_dir=cache_dir, environ=config_environment())
    productions = group_parts(headers.values(), config_root.absolute())
    owners, problems = _dag_owners(list(productions.values()))
    problems = [str(error) for error in errors.values()] + problems
    configs = [config for parts in owners.values() for config in parts.configs]
    entry_problems, unchecked = _entry_problems(configs, cache_dir, budget)
    problems += entry_problems
    if unchecked:
        log.warning("%d config(s) not fully validated yet: the next parses carry on", unchecked)
    return {INVALID_DAG_ID: InvalidProductionConfigs(problems, unchecked)} if problems else {}


def _entry_problems(
    headers: list[ProductionHeader], cache_dir: Path | None, budget: float
) -> tuple[list[str], int]:
    """The entry problems found within ``budget`` seconds, and how many configs are unchecked."""
    deadline = time.monotonic() + budget
    problems: list[str] = []
    environ = config_environment()
    for done, header in enumerate(headers):
        if time.monotonic() > deadline:
            return problems, len(headers) - done
        try:
            load_production(header.path, cache_dir=cache_dir, environ=environ)
        except ConfigError as error:
            problems.append(str(error))
    return problems, 0


def _indexed_production(
    dag_id: str, config_root: Path, cache_dir: Path | None
) -> list[Production] | None:
    """The configs of ``dag_id``'s production, found through the DAG index; ``None`` if not
    found (or the index is stale: a part missing, moved or no longer of that prod_id)."""
    paths = read_index(cache_dir).get(dag_id) if cache_dir is not None else None
    root = config_root.absolute()
    if not paths or not all(Path(path).is_relative_to(root) for path in paths):
        return None
    try:
        environ = config_environment()
        headers = [load_header(Path(p), cache_dir=cache_dir, environ=environ) for p in paths]
    except ConfigError:
        return None
    productions = list(group_parts(headers, root).values())
    if len(productions) != 1 or dag_id_for(productions[0].prod_id) != dag_id:
        return None
    return productions


def _dag_owners(productions: list[Production]) -> tuple[dict[str, Production], list[str]]:
    """Each DAG id's production, and a problem for each prod_id whose DAG id is already taken."""
    owners: dict[str, Production] = {}
    problems: list[str] = []
    for production in sorted(productions, key=lambda production: production.prod_id):
        dag_id = dag_id_for(production.prod_id)
        if dag_id in owners:
            problems.append(
                f"{production.default.path}: prod_id: '{production.prod_id}' gives DAG id "
                f"'{dag_id}', already used by prod_id '{owners[dag_id].prod_id}' (rename one of "
                "them)"
            )
        else:
            owners[dag_id] = production
    return owners, problems
