"""Airflow DAG factory: one DAG per production config under include/production_configs.

The DAG id of a production is ``mc_<prod_id>`` (see lstflow.factory.naming).
"""

from lstflow.factory.library import build_production_dags
from lstflow.factory.settings import parse_cache_dir, production_configs_dir

globals().update(build_production_dags(production_configs_dir(), cache_dir=parse_cache_dir()))
