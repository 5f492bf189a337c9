"""Where this checkout's files are, so nothing names a machine path outside it.

The package is installed editable from ``plugins/``; the checkout root is two levels up. An
installed (non-editable) copy can point at a checkout with ``LSTFLOW_PROJECT_ROOT``.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    override = os.environ.get("LSTFLOW_PROJECT_ROOT")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2]


def include_dir() -> Path:
    return project_root() / "include"


def state_dir() -> Path:
    """Per-checkout, git-ignored working state (Airflow home, demo data, caches)."""
    return project_root() / ".lstflow"


def default_airflow_home() -> Path:
    env = os.environ.get("AIRFLOW_HOME")
    return Path(env) if env else state_dir() / "airflow"
