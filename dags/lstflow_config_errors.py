"""The invalid production configs (no DAG, or invalid entries), shown as this file's import error.

Kept apart from ``lstflow_productions.py``: Airflow marks every DAG of a file with an import
error stale, so the good productions must come from a file that never has one.
"""

from lstflow.factory.library import build_invalid_configs_dag
from lstflow.factory.settings import parse_cache_dir, production_configs_dir, validation_budget

globals().update(
    build_invalid_configs_dag(
        production_configs_dir(), cache_dir=parse_cache_dir(), budget=validation_budget()
    )
)
