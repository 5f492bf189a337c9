"""The thin DAG files of a deployment, as ``lstflow dags write`` writes them.

They only call the builders: the production library, the parse cache and every other site path
come from ``[lstflow]`` in ``airflow.cfg`` when the dag-processor parses them, so the same files
serve every site. The checkout's ``dags/`` holds exactly these (``tests/unit/test_dag_files.py``).
"""

from __future__ import annotations

PRODUCTIONS = '''\
"""Airflow DAG factory: one DAG per production config under [lstflow] production_configs.

The DAG id of a production is ``mc_<prod_id>`` (see lstflow.productions.naming).
"""

from lstflow.product_base.options import parse_cache_dir, production_configs_dir
from lstflow.productions.dag_factory import build_production_dags

globals().update(build_production_dags(production_configs_dir(), cache_dir=parse_cache_dir()))
'''

CONFIG_ERRORS = '''\
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
'''

NIGHTLY = '''\
"""Airflow DAG: the nightly LST-1 onsite analysis, one run per observation night.

Built by lstflow.nightly.night_dag (the logical date is the night; see its module docstring).
"""

from lstflow.nightly.night_dag import build_nightly_dag

dag = build_nightly_dag()
'''

#: File name -> content of every DAG file lstflow provides.
DAG_FILES: dict[str, str] = {
    "lstflow_productions.py": PRODUCTIONS,
    "lstflow_config_errors.py": CONFIG_ERRORS,
    "lstflow_nightly.py": NIGHTLY,
}
