"""Shared fixtures of the end-to-end tests: the analysis environment jobs run in."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from lstflow_dev.checkout import job_pythonpath

RunJob = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def analysis_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of a job: this checkout's lstflow (and lstflow_dev, for the synthetic DL1
    generator) first, lstchain tools on PATH, Agg plots."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [job_pythonpath(), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["MPLBACKEND"] = "Agg"
    env.setdefault("NUMBA_CACHE_DIR", str(tmp_path_factory.mktemp("numba_cache")))
    return env


@pytest.fixture(scope="session")
def run_job(analysis_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> RunJob:
    """Run a command as a job would; ``expect`` is the exit code it must return.

    The default working directory is a scratch one: lstchain tools drop provenance logs there.
    """
    scratch = tmp_path_factory.mktemp("job_cwd")

    def run(
        argv: Sequence[str], expect: int | None = 0, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(a) for a in argv],
            env=analysis_env,
            cwd=cwd or scratch,
            capture_output=True,
            text=True,
            check=False,
        )
        if expect is not None and result.returncode != expect:
            raise AssertionError(
                f"{argv} exited {result.returncode}, expected {expect}\n"
                f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
            )
        return result

    return run
