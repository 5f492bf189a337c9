"""Where the benchmarks keep their state, and how they run lstflow's and lstmcpipe's code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parents[2]
BENCH_DIR = CHECKOUT / ".lstflow" / "bench"
PLUGINS = CHECKOUT / "plugins"
DAG_FILE = CHECKOUT / "dags" / "lstflow_productions.py"
#: The Airflow side's interpreter (the checkout's venv, or the shared one ``make bench`` uses).
PYTHON = sys.executable


def lstflow_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process running this checkout's lstflow."""
    python_path = [str(PLUGINS), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(part for part in python_path if part),
        **(extra or {}),
    }


def run_json_probe(argv: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run a probe that prints one JSON object as its last stdout line; fail with its stderr."""
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:3])}... exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
