"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from lstflow import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "lstflow",
        "name": "LST-1 analysis on Slurm (lstflow)",
        "description": "Runs the CTA LST-1 analysis chain (lstchain) on Slurm clusters over SSH.",
        "versions": [__version__],
    }
