"""Where this checkout's files are: development tooling only ever runs from a checkout.

The product package (``lstflow``) never asks this: an installed lstflow has no checkout.
"""

from __future__ import annotations

from pathlib import Path

CHECKOUT_ROOT = Path(__file__).resolve().parents[2]
DEV_ROOT = CHECKOUT_ROOT / "dev"


def state_dir() -> Path:
    """Per-checkout, git-ignored working state (Airflow home, demo data, caches)."""
    return CHECKOUT_ROOT / ".lstflow"


def job_pythonpath() -> str:
    """``PYTHONPATH`` for a process run as the job user: this checkout's lstflow and lstflow_dev
    (development job-side code such as the synthetic DL1 generator is not in the venv)."""
    return f"{CHECKOUT_ROOT / 'plugins'}:{DEV_ROOT}"
