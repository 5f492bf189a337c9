"""lstflow's options in ``airflow.cfg`` (section ``[lstflow]``), with this checkout's defaults.

Read from Airflow's configuration only (files and ``AIRFLOW__LSTFLOW__*`` variables), never from
the metadata DB, so DAG files can call these at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow.configuration import conf

from lstflow.project import include_dir, state_dir
from lstflow.slurm.policy import PollSettings

SECTION = "lstflow"


def production_configs_dir() -> Path:
    default = include_dir() / "production_configs"
    return Path(conf.get(SECTION, "production_configs", fallback=str(default)))


def parse_cache_dir() -> Path:
    default = state_dir() / "parse-cache"
    return Path(conf.get(SECTION, "parse_cache_dir", fallback=str(default)))


def ssh_conn_id() -> str:
    return conf.get(SECTION, "ssh_conn_id", fallback="lstflow_local_slurm")


def log_root() -> str:
    """Where production logs, manifests and run records go, on the cluster's filesystem."""
    return conf.get(SECTION, "log_root", fallback=str(state_dir() / "data" / "prod_logs"))


def poll_interval() -> float:
    """First Slurm status poll interval in seconds (minutes in production, seconds in tests)."""
    return conf.getfloat(SECTION, "poll_interval", fallback=60.0)


def max_poll_interval() -> float:
    return conf.getfloat(SECTION, "max_poll_interval", fallback=600.0)


def array_throttle() -> int:
    """At most this many elements of one job array run at once (``--array=...%N``)."""
    return conf.getint(SECTION, "array_throttle", fallback=100)


def validation_budget() -> float:
    """Seconds the config-errors DAG file may spend validating entries: half the import timeout.

    A cold parse cache and a large library need more: the rest is validated on the next parses
    (the cache keeps what was done), instead of the whole file timing out.
    """
    return conf.getfloat("core", "dagbag_import_timeout", fallback=30.0) / 2


@dataclass(frozen=True)
class SlurmTaskSettings:
    """The Slurm connection and polling of a product's tasks, read once per DAG file."""

    ssh_conn_id: str
    poll: PollSettings

    def operator_kwargs(self) -> dict[str, Any]:
        return {"ssh_conn_id": self.ssh_conn_id, "poll": self.poll}


def slurm_task_settings(
    interval: float | None = None, max_interval: float | None = None
) -> SlurmTaskSettings:
    """``[lstflow] ssh_conn_id``, ``poll_interval`` and ``max_poll_interval`` (a product may
    poll at its own pace: the nightly DAG passes its own interval)."""
    first = poll_interval() if interval is None else interval
    longest = max_poll_interval() if max_interval is None else max_interval
    return SlurmTaskSettings(
        ssh_conn_id(), PollSettings(poll_interval=first, max_poll_interval=max(first, longest))
    )
