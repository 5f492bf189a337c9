"""Airflow DAG: the nightly LST-1 onsite analysis, one run per observation night.

Built by lstflow.nightly.night_dag (the logical date is the night; see its module docstring).
"""

from lstflow.nightly.night_dag import build_nightly_dag

dag = build_nightly_dag()
