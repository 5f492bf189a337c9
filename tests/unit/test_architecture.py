"""The layering of architecture.md, checked on the import statements of every module.

Keeping the boundaries visible in imports is what lets a real cluster keep the Airflow and the
analysis environments apart, and lets ``lstflow validate`` / ``plan`` run without the Slurm layer.
The Slurm layer's readers (products, UI, CLI) use its public surface only: nothing outside
``slurm/`` builds a Slurm status command, parses Slurm's output or reads a stored plan's or a
report's keys by hand.
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
# What other packages may import from the Slurm layer; the rest is its internals.
SLURM_PUBLIC = {
    f"lstflow.slurm.{name}"
    for name in (
        "hook",
        "operator",
        "sensor",
        "trigger",
        "reports",
        "array_plan",
        "elements",
        "cluster_files",
        "policy",
        "states",
    )
}
SLURM_READERS = ["product_base", "productions", "nightly", "ui", "commands"]
# Keys only SlurmReport and ArrayPlan JSON have: read through their types, never by hand.
SLURM_JSON_KEYS = {
    "completed",
    "chunk_scripts",
    "submitting",
    "array_index",
    "task_try",
    "stdout_log",
    "stderr_log",
    "stderr_tail",
}
# Task-state-store keys of the Slurm layer (its stored spec and plans).
SLURM_STORE_KEYS = ("lstflow.slurm.plan", "lstflow.slurm.spec")
STATUS_COMMANDS = {"sacct", "squeue"}
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
            if node.module == "lstflow.slurm":  # from lstflow.slurm import trigger
                names.update(f"lstflow.slurm.{alias.name}" for alias in node.names)
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


#: What only the job side installs (the wheel's ``analysis`` extra and lstchain's stack).
JOB_SIDE_PACKAGES = ANALYSIS_PACKAGES | {"prov", "matplotlib", "astropy", "joblib", "pyirf"}


def module_level_imports(path: Path) -> set[str]:
    """Names a module imports when it is imported (not those of function-level imports)."""
    names: set[str] = set()
    for statement in ast.parse(path.read_text(), filename=str(path)).body:
        for node in ast.walk(statement):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                break
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return names


def module_path(name: str) -> Path | None:
    relative = PACKAGE.parent.joinpath(*name.split("."))
    for candidate in (relative.with_suffix(".py"), relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_on_import(path: Path) -> set[str]:
    """Every name importing ``path`` imports, following lstflow's own modules."""
    seen: set[Path] = set()
    names: set[str] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in module_level_imports(current):
            names.add(name)
            parts = name.split(".")
            for end in range(2, len(parts) + 1):  # lstflow.a.b also imports lstflow.a
                found = module_path(".".join(parts[:end])) if parts[0] == "lstflow" else None
                if found:
                    todo.append(found)
    return names


@pytest.mark.parametrize("subpackage", AIRFLOW_SIDE)
def test_airflow_side_imports_nothing_only_the_job_side_installs(subpackage: str) -> None:
    """An installed wheel has the Airflow side's dependencies only: a DAG-side module importing
    a job-side module that imports ``prov`` broke every production DAG outside the checkout."""
    found = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / subpackage).rglob("*.py"))
        for name in sorted(imported_on_import(path))
        if name.split(".")[0] in JOB_SIDE_PACKAGES
    ]
    assert found == []


def test_product_package_never_imports_development_tooling() -> None:
    assert violations(".", DEVELOPMENT) == []


def outside_slurm() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "slurm" not in p.relative_to(PACKAGE).parts)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def slurm_format_readings(path: Path) -> list[str]:
    """Status commands built, stored-plan keys or report/plan keys read by hand in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            words = node.value.split()
            if words and words[0] in STATUS_COMMANDS:
                found.append(f"builds a {words[0]} command: {node.value[:40]!r}")
            if node.value.startswith(SLURM_STORE_KEYS):
                found.append(f"names a Slurm layer key: {node.value!r}")
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            key = node.args[0].value
        if key in SLURM_JSON_KEYS:
            found.append(f"reads the key {key!r} by hand")
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "from_json"
            and isinstance(node.value, ast.Name)
            and node.value.id == "ArrayPlan"
        ):
            found.append("decodes a stored plan (use lstflow.slurm.array_plan.read_plan)")
    return found


@pytest.mark.parametrize("subpackage", SLURM_READERS)
def test_readers_import_only_the_slurm_layers_public_surface(subpackage: str) -> None:
    internal = []
    for path in sorted((PACKAGE / subpackage).rglob("*.py")):
        for name in imported_names(path):
            if name.startswith("lstflow.slurm.") and name not in SLURM_PUBLIC:
                internal.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert internal == []


def test_nothing_outside_slurm_parses_slurm_output_or_the_stored_plan() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}: {problem}"
        for path in outside_slurm()
        for problem in slurm_format_readings(path)
    ]
    assert found == []


def test_the_format_check_sees_what_it_forbids(tmp_path: Path) -> None:
    sample = tmp_path / "reader.py"
    sample.write_text(
        "import json\n"
        "argv = ['sacct', '-j', '1']\n"
        "KEY = 'lstflow.slurm.plan.'\n"
        "def f(report, plan):\n"
        "    return report['completed'], plan.get('chunk_scripts'), ArrayPlan.from_json(plan)\n"
    )
    assert len(slurm_format_readings(sample)) == 5


def test_no_product_module_locates_files_from_its_own_path() -> None:
    """Package data is read with importlib.resources (``lstflow.package_data``); a path computed
    from ``__file__`` would point into a checkout that an installed lstflow does not have."""
    found = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if any(
            isinstance(node, ast.Name) and node.id == "__file__"
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        )
    ]
    assert found == []
