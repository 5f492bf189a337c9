"""Provider metadata for Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

The ``slurm`` connection type is declared here, fields included, as Airflow 3.2+ wants it (the
hook methods ``get_connection_form_widgets``/``get_ui_field_behaviour`` are deprecated): the UI
reads it without importing the hook, and ``Admin -> Connections -> +`` offers "Slurm (lstflow)".
Its extras are the SSH provider's own (``key_file``, ``host_key``), so ``SlurmHook`` reads a
``slurm`` and an ``ssh`` connection alike.
"""

from __future__ import annotations

from typing import Any

from lstflow import __version__

SLURM_CONNECTION_TYPE: dict[str, Any] = {
    "hook-class-name": "lstflow.slurm.hook.SlurmHook",
    "hook-name": "Slurm (lstflow)",
    "connection-type": "slurm",
    "conn-fields": {
        "key_file": {
            "label": "Private key file",
            "description": "Path of the SSH private key on every Airflow worker and triggerer "
            "host, readable by the account that runs them",
            "schema": {"type": ["string", "null"]},
        },
        "host_key": {
            "label": "Pinned host key",
            "description": "Public host key of the login node, e.g. 'ssh-ed25519 AAAA...' "
            "(ssh-keyscan, checked out of band). Required: lstflow refuses unverified hosts",
            "schema": {"type": ["string", "null"]},
        },
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "password"],
        "relabeling": {"host": "Login node", "login": "Cluster user"},
        "placeholders": {"host": "login.cluster.example.org", "port": "22", "login": "lstanalyzer"},
    },
}


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
                "python-modules": [
                    "lstflow.slurm.operator",
                    "lstflow.productions.stage_operator",
                    "lstflow.nightly.step_operator",
                ],
            }
        ],
        "sensors": [{"integration-name": "Slurm", "python-modules": ["lstflow.slurm.sensor"]}],
        "triggers": [{"integration-name": "Slurm", "python-modules": ["lstflow.slurm.trigger"]}],
        "connection-types": [SLURM_CONNECTION_TYPE],
    }
