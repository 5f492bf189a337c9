"""The built wheel is self-contained: package data in, development tooling out, and an
installed copy outside any checkout renders an sbatch script, loads the onsite defaults and
renders airflow.cfg, with no path of this checkout on ``sys.path``.

The wheel is built the way a new user builds it (``pip wheel --no-deps`` of the source tree,
copied first so the build leaves nothing in the checkout) and installed with
``pip install --no-deps --target``. The installed copy runs under ``python -S -P``: no ``.pth``
file is processed, so the venv's editable finder (which points at a checkout) is not active, and
no current directory is on the path; ``PYTHONPATH`` is the target dir plus the venv's
site-packages for the dependencies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from lstflow import __version__

pytestmark = pytest.mark.unit

CHECKOUT = Path(__file__).resolve().parents[2]
PIP = [sys.executable, "-m", "pip"]
SKIP = shutil.ignore_patterns(
    ".git", ".venv", ".lstflow", "__pycache__", ".mypy_cache", ".ruff_cache", "build", "*.egg-info"
)
PACKAGE_DATA = {
    "lstflow/py.typed",
    "lstflow/slurm/templates/array.sbatch.j2",
    "lstflow/onsite/defaults/lst1_onsite.yaml",
    "lstflow/onsite/defaults/exclusions.yaml",
    "lstflow/commands/templates/airflow.cfg.j2",
    "lstflow/ui/templates/base.html",
}
# What the installed copy does, printed as JSON for the test to check.
PROBE = """
import json, sys, tempfile
from pathlib import Path
import lstflow
from lstflow.commands.init import render_config
from lstflow.onsite.settings import DEFAULT_SETTINGS_PATH, load_settings
from lstflow.slurm.script import render_array_script
from lstflow.workitems import WorkItem

script = render_array_script("probe", [WorkItem("k0", ("echo", "it's quoted"))])
settings = load_settings(DEFAULT_SETTINGS_PATH, base="/onsite")
home = Path(tempfile.mkdtemp())
cfg = render_config(home, api_port=8080, executor="LocalExecutor", sql_alchemy_conn=None)
print(json.dumps({
    "lstflow": lstflow.__file__,
    "settings": str(DEFAULT_SETTINGS_PATH),
    "sys_path": sys.path,
    "script": script,
    "r0": str(settings.path(settings.layout.r0)),
    "exclusions": str(settings.exclusions_file),
    "cfg_dags_folder": f"dags_folder = {home}/dags" in cfg,
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(CHECKOUT, source, ignore=SKIP, symlinks=True)
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = (work / "dist").glob("lstflow-*.whl")
    return built


def test_wheel_holds_package_data_and_no_development_tooling(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert names >= PACKAGE_DATA
    assert {name.split("/")[0] for name in names} == {"lstflow", f"lstflow-{__version__}.dist-info"}
    development = ("localcluster", "testdata", "demo", "synthetic", "lstflow_dev")
    assert [name for name in names if any(word in name for word in development)] == []


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site") / "lib"
    subprocess.run(
        [*PIP, "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return target


def test_installed_copy_outside_the_checkout_renders_and_loads_its_defaults(
    installed: Path, tmp_path: Path
) -> None:
    dependencies = sysconfig.get_paths()["purelib"]
    done = subprocess.run(
        [sys.executable, "-S", "-P", "-c", PROBE],
        env={"PYTHONPATH": f"{installed}:{dependencies}", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["lstflow"] == str(installed / "lstflow" / "__init__.py")
    assert report["settings"] == str(installed / "lstflow/onsite/defaults/lst1_onsite.yaml")
    # only the target, the dependencies and the standard library: no checkout folder
    stdlib = sys.base_prefix
    assert [
        entry
        for entry in report["sys_path"]
        if entry not in (str(installed), dependencies) and not entry.startswith(stdlib)
    ] == []
    assert "echo 'it'\"'\"'s quoted'" in report["script"]
    assert report["r0"] == "/onsite/R0G"
    assert report["exclusions"] == str(installed / "lstflow/onsite/defaults/exclusions.yaml")
    assert report["cfg_dags_folder"] is True
