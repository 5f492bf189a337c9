"""lstflow's options in ``airflow.cfg`` (section ``[lstflow]``), with their defaults.

Read from Airflow's configuration only (files and ``AIRFLOW__LSTFLOW__*`` variables), never from
the metadata DB, so DAG files can call these at parse time. Defaults never name a checkout: site
paths default to folders of ``$AIRFLOW_HOME`` (README: "[lstflow] options").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow.configuration import AIRFLOW_HOME, conf

from lstflow.slurm.policy import PollSettings

SECTION = "lstflow"


def production_configs_dir() -> Path:
    """The production library: every production config below it becomes a DAG."""
    default = Path(AIRFLOW_HOME, "production_configs")
    return Path(conf.get(SECTION, "production_configs", fallback=str(default)))


def parse_cache_dir() -> Path:
    default = Path(AIRFLOW_HOME, "lstflow-cache")
    return Path(conf.get(SECTION, "parse_cache_dir", fallback=str(default)))


def config_variables() -> dict[str, str]:
    """``[lstflow] config_variables``: the site's ``${NAME}`` values for production configs'
    paths, one ``NAME = value`` per line (``lstflow init --config-variable NAME=VALUE`` writes
    them), so a portable library needs nothing exported in the Airflow processes' environment.
    """
    text = conf.get(SECTION, "config_variables", fallback="")
    variables: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        if not equals or not name.strip().isidentifier():
            raise ValueError(
                f"airflow.cfg [{SECTION}] config_variables: {line.strip()!r} is not NAME = value "
                "(one per line, e.g. LSTFLOW_DATA_ROOT = /data)"
            )
        variables[name.strip()] = value.strip()
    return variables


def config_environment() -> Mapping[str, str]:
    """What ``${NAME}`` in a production config expands to: ``config_variables``, each
    overridden by an environment variable of the same name (as ``AIRFLOW__*`` override
    ``airflow.cfg``)."""
    return {**config_variables(), **os.environ}


def ssh_conn_id() -> str:
    return conf.get(SECTION, "ssh_conn_id", fallback="lstflow_local_slurm")


def log_root() -> str:
    """Where production logs, manifests and run records go, on the cluster's filesystem (the
    default suits a cluster that mounts ``$AIRFLOW_HOME`` at the same path)."""
    return conf.get(SECTION, "log_root", fallback=str(Path(AIRFLOW_HOME, "prod_logs")))


def poll_interval() -> float:
    """First Slurm status poll interval in seconds (minutes in production, seconds in tests)."""
    return conf.getfloat(SECTION, "poll_interval", fallback=60.0)


def max_poll_interval() -> float:
    return conf.getfloat(SECTION, "max_poll_interval", fallback=600.0)


def array_throttle() -> int:
    """At most this many elements of one job array run at once (``--array=...%N``)."""
    return conf.getint(SECTION, "array_throttle", fallback=100)


def lineage_runs() -> bool:
    """``[lstflow] lineage_runs``: productions run lineage-aware (docs/lineage.md): every
    stage submitted at the start with Slurm dependencies, watched per lineage group."""
    return conf.getboolean(SECTION, "lineage_runs", fallback=False)


def max_pending_jobs() -> int:
    """``[lstflow] max_pending_jobs``: a lineage-aware run submits more arrays only while the
    cluster account holds fewer pending jobs (array elements, all runs and tools alike) than
    this; sites cap pending jobs (lstosa's reprocessing holds at 2,500). 0: no cap."""
    return max(0, conf.getint(SECTION, "max_pending_jobs", fallback=2000))


def lineage_nice_step() -> int:
    """``[lstflow] lineage_nice_step``: in a lineage-aware run, each lineage group's jobs get
    this much more Slurm ``--nice`` than the group before it (config order; shared work goes
    with the first group needing it), so on a full cluster declinations finish one after
    another instead of all late; 0 leaves priorities to Slurm. Positive nice only lowers
    one's own jobs."""
    return max(0, conf.getint(SECTION, "lineage_nice_step", fallback=100))


def validation_budget() -> float:
    """Seconds the config-errors DAG file may spend validating entries: half the import timeout.

    A cold parse cache and a large library need more: the rest is validated on the next parses
    (the cache keeps what was done), instead of the whole file timing out.
    """
    return conf.getfloat("core", "dagbag_import_timeout", fallback=30.0) / 2


def job_python() -> str:
    """The one job-Python rule of both products: jobs run ``lstflow.jobs`` and lstchain with
    ``[lstflow] job_python``, by default ``python`` as the product's environment prologue leaves
    it on the PATH (a production's ``source_environment``, the night's ``environment``)."""
    return conf.get(SECTION, "job_python", fallback="python")


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
