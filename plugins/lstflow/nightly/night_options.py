"""Options of the nightly DAG in ``airflow.cfg`` (section ``[lstflow]``), with defaults.

Read from Airflow's configuration only (files and ``AIRFLOW__LSTFLOW__*`` variables), so the DAG
file can call them at parse time without touching the metadata DB.
"""

from __future__ import annotations

import datetime as dt
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


def slurm_poll_interval() -> float:
    """Seconds between Slurm status polls of the nightly steps (grows up to 10x while idle)."""
    return conf.getfloat(SECTION, "nightly_poll_interval", fallback=60.0)


def max_active_nights() -> int:
    """How many nights run at once, e.g. during a reprocessing backfill."""
    return conf.getint(SECTION, "nightly_max_active_runs", fallback=2)


def alert_recipients() -> list[str]:
    """Who gets "<night> is not closed yet" (lstosa's ``[mail] recipient``); none: no alert."""
    value = conf.get(SECTION, "nightly_alert_to", fallback="") or ""
    return [address.strip() for address in value.split(",") if address.strip()]


def close_deadline() -> dt.timedelta:
    """How long after its run is queued a night must be closed. Default 16 h 55 min: lstosa's
    last autocloser of the day runs at 23:55 UTC, the night's processing starts at 07:00."""
    return dt.timedelta(seconds=conf.getint(SECTION, "nightly_close_deadline", fallback=60_900))


def alert_smtp_conn_id() -> str:
    """The Airflow SMTP connection the alert mail goes through."""
    return conf.get(SECTION, "nightly_alert_smtp_conn_id", fallback="smtp_default")
