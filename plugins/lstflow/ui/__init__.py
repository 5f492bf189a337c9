"""Airflow UI plugin of lstflow: pages for the production library, production runs and nights.

Served by the api-server under ``/lstflow`` (``plugin.LstflowPlugin``), behind Airflow's auth:

- ``/lstflow/productions``: the library (prod_id, stages and entries, environment, latest run,
  README);
- ``/lstflow/productions/<prod_id>[?run_id=]``: per-stage Slurm progress, failed elements with
  their stderr tails, plots, sacct runtime/memory histograms and the run's provenance;
- ``/lstflow/productions/<prod_id>/plots/<name>``, ``.../provenance.json?run_id=``: the files;
- ``/lstflow/nights``: the nightly DAG's night status tables;
- ``/lstflow/dags/<dag_id>[/runs/<run_id>]``: where the Airflow UI's DAG and DAG-run tabs land.
"""
