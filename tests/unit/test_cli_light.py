"""The user-facing CLI starts without Airflow: ``--help``, ``validate``, ``plan`` and
``generate-config`` run in a fresh interpreter and leave ``airflow`` out of ``sys.modules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

DEMO = Path(__file__).resolve().parents[2] / "include" / "production_configs" / "demo"
PROBE = """
import json, sys
from lstflow.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
airflow = sorted(m for m in sys.modules if m.split(".")[0] == "airflow")
print(json.dumps({"status": status, "airflow": airflow[:5]}))
"""
PROD5_PARTICLES = (
    "gamma/zenith_20deg/south_pointing/off0.0deg",
    "gamma/zenith_20deg/south_pointing/off0.4deg",
    "gamma-diffuse/zenith_20deg/south_pointing",
    "electron/zenith_20deg/south_pointing",
    "proton/zenith_20deg/south_pointing",
)


def run_cli(tmp_path: Path, *argv: str) -> tuple[int, list[str], str]:
    """Exit status, the airflow modules imported, and the output of ``lstflow ARGV``."""
    env = {
        **os.environ,
        "LSTFLOW_DATA_ROOT": str(tmp_path / "data"),
        "LSTFLOW_ANALYSIS_ENV": sys.prefix,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["status"], report["airflow"], done.stdout + done.stderr


def test_help_imports_no_airflow(tmp_path: Path) -> None:
    status, airflow, output = run_cli(tmp_path, "--help")
    assert (status, airflow) == (0, [])
    assert "generate-config" in output


def test_validate_with_the_lstchain_check_imports_no_airflow(tmp_path: Path) -> None:
    status, airflow, output = run_cli(tmp_path, "validate", str(DEMO))
    assert (status, airflow) == (0, []), output
    assert "3 config(s) checked, 0 with errors" in output


def test_plan_imports_no_airflow(tmp_path: Path) -> None:
    config = next((DEMO / "lstflow_demo_analysis").glob("*.yaml"))
    status, airflow, output = run_cli(tmp_path, "plan", str(config))
    assert (status, airflow) == (0, []), output
    assert "== train_pipe: 1 elements in 1 job array(s)" in output


def test_generate_config_imports_no_airflow(tmp_path: Path) -> None:
    dl0 = tmp_path / "data" / "mc" / "DL0" / "20200629_prod5_trans_80"
    for particle in PROD5_PARTICLES:
        (dl0 / particle).mkdir(parents=True)
        (dl0 / particle / "x.simtel.gz").write_bytes(b"")
    out = tmp_path / "p5"
    argv = ["generate-config", "Prod5Trans80", "--prod-id", "p5", "--data-root"]
    status, airflow, output = run_cli(tmp_path, *argv, str(tmp_path / "data"), "-o", str(out))
    assert (status, airflow) == (0, []), output
    assert (out / "lstmcpipe_config_p5.yaml").is_file()
