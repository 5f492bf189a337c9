"""Job-side code: what runs inside Slurm jobs, in the analysis environment.

Every module here is run as ``python -m lstflow.jobs.<module> ...`` and must never import
Airflow: the analysis environment on a cluster need not have it.
"""
