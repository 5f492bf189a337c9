"""Job-side modules run in the analysis environment, which need not have Airflow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

JOBS = Path(__file__).resolve().parents[3] / "plugins" / "lstflow" / "jobs"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _job_modules() -> list[str]:
    return sorted(f"lstflow.jobs.{p.stem}" for p in JOBS.glob("*.py") if p.stem != "__init__")


def test_no_job_module_imports_airflow_in_its_source() -> None:
    offenders = [
        f"{path.name}: {name}"
        for path in sorted(JOBS.rglob("*.py"))
        for name in _imports(path)
        if name == "airflow" or name.startswith("airflow.")
    ]
    assert offenders == []


def test_importing_every_job_module_loads_no_airflow() -> None:
    modules = _job_modules()
    assert "lstflow.jobs.batch" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
