"""DAG builders: assemble Airflow DAGs from the planners and the Slurm layer."""
