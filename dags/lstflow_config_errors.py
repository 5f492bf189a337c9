"""The invalid production configs (no DAG, or invalid entries), shown as this file's import error.

Kept apart from ``lstflow_productions.py``: Airflow marks every DAG of a file with an import
error stale, so the good productions must come from a file that never has one.
"""

from lstflow.product_base.options import parse_cache_dir, production_configs_dir, validation_budget
from lstflow.productions.dag_factory import build_invalid_configs_dag

globals().update(
    build_invalid_configs_dag(
        production_configs_dir(), cache_dir=parse_cache_dir(), budget=validation_budget()
    )
)
