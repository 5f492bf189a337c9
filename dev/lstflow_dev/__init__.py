"""lstflow's development tooling: local Slurm cluster, test data, the demo and its data builders.

Lives outside the ``lstflow`` package (``dev/`` in the checkout), so the wheel never ships it and
nothing in ``lstflow`` imports it (``tests/unit/test_architecture.py``). Run its CLI with
``python -m lstflow_dev`` (the Makefile puts ``dev/`` on ``PYTHONPATH``).
"""
