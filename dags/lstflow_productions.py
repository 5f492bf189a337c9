"""Airflow DAG factory: one DAG per production config under [lstflow] production_configs.

The DAG id of a production is ``mc_<prod_id>`` (see lstflow.productions.naming).
"""

from lstflow.product_base.options import parse_cache_dir, production_configs_dir
from lstflow.productions.dag_factory import build_production_dags

globals().update(build_production_dags(production_configs_dir(), cache_dir=parse_cache_dir()))
