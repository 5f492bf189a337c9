"""Job-side code: runs inside Slurm jobs in the analysis environment; never imports Airflow."""
