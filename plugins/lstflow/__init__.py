"""lstflow: run the CTA LST-1 analysis chain (lstchain) on Slurm clusters from Apache Airflow."""

__version__ = "0.1.0"
