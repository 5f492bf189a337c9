"""The layering of architecture.md, checked on the import statements of every module.

Keeping the boundaries visible in imports is what lets a real cluster keep the Airflow and the
analysis environments apart, and lets ``lstflow validate`` / ``plan`` run without the Slurm layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "lstflow"
ANALYSIS_PACKAGES = {"lstchain", "ctapipe", "ctapipe_io_lst", "pyirf", "h5py", "tables", "numpy"}

# (sub-package, top-level names it must never import)
PRODUCTS = {"lstflow.productions", "lstflow.nightly", "lstflow.product_base"}
FORBIDDEN: list[tuple[str, set[str]]] = [
    ("jobs", {"airflow", "lstflow.slurm", "lstflow.ui", *PRODUCTS}),
    ("config", {"airflow", "lstflow.slurm", "lstflow.stages", *PRODUCTS}),
    ("stages", {"airflow", "lstflow.slurm", *PRODUCTS}),
    ("onsite", {"airflow", "lstflow.slurm", *PRODUCTS}),
    ("slurm", {"lstflow.config", "lstflow.stages", "lstflow.onsite", "lstflow.jobs", *PRODUCTS}),
    ("product_base", {"lstflow.productions", "lstflow.nightly", "lstflow.ui"}),
    ("productions", {"lstflow.nightly", "lstflow.ui"}),
    ("nightly", {"lstflow.productions", "lstflow.ui"}),
]
AIRFLOW_SIDE = [
    "config",
    "stages",
    "onsite",
    "slurm",
    "product_base",
    "productions",
    "nightly",
    "ui",
    "commands",
]
# Development tooling (dev/lstflow_dev) and test helpers are not in the wheel.
DEVELOPMENT = {"lstflow_dev", "support", "tests"}


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violations(subpackage: str, forbidden: set[str]) -> list[str]:
    found = []
    for path in sorted((PACKAGE / subpackage).rglob("*.py")):
        for name in imported_names(path):
            if any(name == bad or name.startswith(bad + ".") for bad in forbidden):
                found.append(f"{path.relative_to(PACKAGE)} imports {name}")
    return found


@pytest.mark.parametrize(("subpackage", "forbidden"), FORBIDDEN, ids=[s for s, _ in FORBIDDEN])
def test_layer_does_not_import_forbidden_layers(subpackage: str, forbidden: set[str]) -> None:
    assert violations(subpackage, forbidden) == []


@pytest.mark.parametrize("subpackage", AIRFLOW_SIDE)
def test_airflow_side_never_imports_the_analysis_stack(subpackage: str) -> None:
    assert violations(subpackage, ANALYSIS_PACKAGES) == []


def test_product_package_never_imports_development_tooling() -> None:
    assert violations(".", DEVELOPMENT) == []
