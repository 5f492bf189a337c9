"""``[lstflow] config_variables``: what ``lstflow init --config-variable`` writes is what the
DAG factory expands ``${NAME}`` in production configs with, the environment overriding it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

READ_BACK = (
    "import json; from lstflow.product_base.options import config_environment; "
    "env = config_environment(); "
    "print(json.dumps({k: env.get(k) for k in ('LSTFLOW_DATA_ROOT', 'LSTFLOW_ANALYSIS_ENV')}))"
)


def _init(home: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "lstflow.cli", "init", "--airflow-home", str(home), "--no-db"]
    for variable in variables:
        argv += ["--config-variable", variable]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def _read_back(home: Path, **environ: str) -> str:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LSTFLOW_")}
    env = {**inherited, "AIRFLOW_HOME": str(home), **environ}
    result = subprocess.run(
        [sys.executable, "-c", READ_BACK], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_init_writes_the_variables_the_factory_expands_and_the_environment_overrides(
    tmp_path: Path,
) -> None:
    home = tmp_path / "airflow"
    written = _init(home, "LSTFLOW_DATA_ROOT=/site/data", "LSTFLOW_ANALYSIS_ENV=/opt/lstchain")
    assert written.returncode == 0, written.stderr

    cfg = (home / "airflow.cfg").read_text()
    assert "    LSTFLOW_DATA_ROOT = /site/data\n" in cfg
    assert _read_back(home) == (
        '{"LSTFLOW_DATA_ROOT": "/site/data", "LSTFLOW_ANALYSIS_ENV": "/opt/lstchain"}'
    )
    assert _read_back(home, LSTFLOW_DATA_ROOT="/elsewhere") == (
        '{"LSTFLOW_DATA_ROOT": "/elsewhere", "LSTFLOW_ANALYSIS_ENV": "/opt/lstchain"}'
    )


@pytest.mark.parametrize("bad", ["NO_EQUALS", "1BAD=/x", "=/x"])
def test_init_rejects_a_variable_that_is_not_name_equals_value(tmp_path: Path, bad: str) -> None:
    result = _init(tmp_path / "airflow", bad)
    assert result.returncode == 2
    assert f"{bad!r} is not NAME=VALUE" in result.stderr
    assert not (tmp_path / "airflow" / "airflow.cfg").exists()
