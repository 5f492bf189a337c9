"""Shared fixtures; the local-cluster logic lives in ``lstflow.localcluster``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lstflow import localcluster


@pytest.fixture(scope="session")
def slurm_cluster() -> localcluster.ClusterInfo:
    """The machine-wide local Slurm-over-SSH cluster, brought up (or re-probed) once per session.

    ``.env`` holds SLURM_SSH_* / SLURM_CONF / ...; ``.connection_json`` is the Airflow SSH
    connection (export it as ``AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM``). The cluster stays up.
    """
    return localcluster.up()


@pytest.fixture
def cluster_workdir(
    slurm_cluster: localcluster.ClusterInfo, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """A fresh directory owned by the job user, usable as a job's ``--chdir`` and log dir."""
    path = localcluster.make_workdir(request.node.name)
    yield path
    localcluster.remove_workdir(path)
