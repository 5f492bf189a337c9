"""Fixtures for tests against the real local Slurm cluster over real SSH (see tests/conftest.py
for the cluster itself, its Airflow connection and the tests' AIRFLOW_HOME)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from lstflow_dev import localcluster


@pytest.fixture(scope="session")
def slurm_env(slurm_cluster: localcluster.ClusterInfo) -> dict[str, str]:
    return slurm_cluster.env


@pytest.fixture
def remote_dir(request: pytest.FixtureRequest, slurm_env: dict[str, str]) -> Iterator[str]:
    """A fresh directory owned by the job user (created over SSH as that user)."""
    from lstflow.slurm.cluster_files import ClusterFiles
    from lstflow.slurm.hook import SlurmHook

    hook = SlurmHook()
    home = hook.check(["sh", "-c", 'printf %s "$HOME"']).stdout
    path = f"{home}/lstflow-tests/{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"
    ClusterFiles(hook).make_dirs([path])
    yield path


@pytest.fixture(autouse=True)
def _cluster_up(slurm_cluster: localcluster.ClusterInfo) -> None:
    """Every cluster-tier test runs against the cluster and its Airflow connection."""
