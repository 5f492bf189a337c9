"""Build the DAGs of a whole production library, never letting one bad config hide the others.

Every invalid config is collected into one placeholder DAG whose validation fails with all their
messages (file, YAML path, fix), so Airflow shows them as an import error. That placeholder is
built by a DAG file of its own (``dags/lstflow_config_errors.py``): Airflow 3's dag-processor
marks *every* DAG of a file that has an import error stale, so an error in the productions' own
file would hide all the good productions.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import DAG, get_parsing_context

from lstflow.config import load_library
from lstflow.factory.naming import dag_id_for
from lstflow.factory.production_dag import build_production_dag

INVALID_DAG_ID = "lstflow_invalid_production_configs"


class InvalidProductionConfigs(DAG):
    """Never runs: its validation failure is how Airflow shows the broken configs."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(dag_id=INVALID_DAG_ID, schedule=None, auto_register=False)
        self.problems = problems

    def validate(self) -> None:
        count = len(self.problems)
        raise ValueError(
            f"{count} production config(s) could not be loaded; the other productions are "
            "unaffected:\n" + "\n".join(self.problems)
        )


def build_production_dags(config_root: Path, cache_dir: Path | None = None) -> dict[str, DAG]:
    """All valid production DAGs; on a worker running one task, only that task's DAG."""
    dags, _problems = _assemble(config_root, cache_dir)
    return dags


def build_invalid_configs_dag(config_root: Path, cache_dir: Path | None = None) -> dict[str, DAG]:
    """The placeholder DAG reporting every config that gave no DAG (none when all are fine)."""
    if get_parsing_context().dag_id is not None:
        return {}
    _dags, problems = _assemble(config_root, cache_dir)
    return {INVALID_DAG_ID: InvalidProductionConfigs(problems)} if problems else {}


def _assemble(config_root: Path, cache_dir: Path | None) -> tuple[dict[str, DAG], list[str]]:
    library = load_library(config_root, cache_dir=cache_dir)
    only = get_parsing_context().dag_id
    dags: dict[str, DAG] = {}
    owners: dict[str, str] = {}
    problems = [str(error) for error in library.errors.values()]
    for prod_id, production in sorted(library.productions.items()):
        dag_id = dag_id_for(prod_id)
        if only is not None and dag_id != only:
            continue
        if dag_id in owners:
            problems.append(
                f"{production.path}: prod_id: '{prod_id}' gives DAG id '{dag_id}', already used "
                f"by prod_id '{owners[dag_id]}' (rename one of them)"
            )
            continue
        try:
            dags[dag_id] = build_production_dag(production)
        except (OSError, ValueError) as exc:
            problems.append(f"{production.path}: {exc}")
            continue
        owners[dag_id] = prod_id
    return dags, problems
