"""Options of the nightly DAG in ``airflow.cfg`` (section ``[lstflow]``), with defaults.

Read from Airflow's configuration only (files and ``AIRFLOW__LSTFLOW__*`` variables), so the DAG
file can call them at parse time without touching the metadata DB.
"""

from __future__ import annotations

import sys
from pathlib import Path

from airflow.configuration import conf

from lstflow.onsite.settings import DEFAULT_SETTINGS_PATH
from lstflow.product_base.options import SECTION


def onsite_config() -> Path:
    """The onsite YAML (layout, resources, analysis-version defaults)."""
    return Path(conf.get(SECTION, "onsite_config", fallback=str(DEFAULT_SETTINGS_PATH)))


def onsite_base() -> str | None:
    """Root of the onsite data tree; ``None`` leaves it to ``$LSTFLOW_ONSITE_BASE``."""
    return conf.get(SECTION, "onsite_base", fallback=None) or None


def job_python() -> str:
    """The interpreter jobs run ``lstflow.jobs`` with, on the cluster (lstflow must be importable
    there); the default, Airflow's own interpreter, suits a cluster that sees Airflow's venv."""
    return conf.get(SECTION, "job_python", fallback=sys.executable)


def slurm_poll_interval() -> float:
    """Seconds between Slurm status polls of the nightly steps (grows up to 10x while idle)."""
    return conf.getfloat(SECTION, "nightly_poll_interval", fallback=60.0)


def max_active_nights() -> int:
    """How many nights run at once, e.g. during a reprocessing backfill."""
    return conf.getint(SECTION, "nightly_max_active_runs", fallback=2)
