"""The Slurm layer: work items -> job arrays over SSH (hook, deferrable operator, batched trigger).

Import the parts from their modules (``lstflow.slurm.operator`` etc.); this package imports
nothing so that the pure parsers stay importable without Airflow.
"""
