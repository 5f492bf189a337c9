"""Provider metadata for Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from lstflow import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "lstflow",
        "name": "LST-1 analysis on Slurm (lstflow)",
        "description": "Runs the CTA LST-1 analysis chain (lstchain) on Slurm clusters over SSH.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Slurm",
                "external-doc-url": "https://slurm.schedmd.com/",
                "tags": ["software"],
            }
        ],
        "hooks": [{"integration-name": "Slurm", "python-modules": ["lstflow.slurm.hook"]}],
        "operators": [
            {
                "integration-name": "Slurm",
                "python-modules": ["lstflow.slurm.operator", "lstflow.productions.stage_operator"],
            }
        ],
        "triggers": [{"integration-name": "Slurm", "python-modules": ["lstflow.slurm.trigger"]}],
        "connection-types": [
            {"hook-class-name": "lstflow.slurm.hook.SlurmHook", "connection-type": "slurm"}
        ],
    }
