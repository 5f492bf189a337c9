"""The deployment tier: lstflow installed as a site installs it, outside this checkout.

The README's "Deploy lstflow into your Airflow" lists these steps; this test runs them:

1. build the wheel from the checkout and install it, with ``apache-airflow[postgres]`` under
   Airflow's constraints, into a fresh venv outside the checkout (no checkout path on
   ``sys.path``, no ``LSTFLOW_PROJECT_ROOT``, nothing exported but ``AIRFLOW_HOME``);
2. a PostgreSQL database for the metadata; ``lstflow init`` writes ``airflow.cfg`` into an
   ``AIRFLOW_HOME`` outside the checkout (dags folder, production library: a copy of one demo
   production, its ``${...}`` paths as ``config_variables``, log root, connection id) and
   migrates the DB; ``lstflow dags write`` puts the DAG files into the dags folder;
3. the SSH connection with the cluster's host key pinned (``airflow connections add``);
4. the real scheduler, dag-processor, triggerer and api-server (LocalExecutor) against the
   local Slurm cluster; ``airflow dags trigger``; the run succeeds and its job outputs are real
   DL1 files.

The installed packages are cached in ``.lstflow/deployment/wheelhouse`` (keyed by the
constraints and pyproject.toml), so a second run of one checkout installs without the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import pytest
from support import postgres
from support.airflow_stack import FINISHED_TI_STATES, AirflowStack, all_in, free_port

from lstflow.productions.naming import dag_id_for
from lstflow_dev import demo, localcluster, testdata

pytestmark = pytest.mark.deployment

CHECKOUT = Path(__file__).resolve().parents[2]
CACHE = CHECKOUT / ".lstflow" / "deployment"
AIRFLOW_REQUIREMENT = "apache-airflow[postgres]==3.3.2"
#: Where a site gets Airflow's constraints; this machine reaches PyPI only, so by default the
#: tier pins the versions the checkout's own venv was tested with (its ``pip freeze``).
CONSTRAINTS_VARIABLE = "LSTFLOW_AIRFLOW_CONSTRAINTS"
PROD_ID = "lstflow_demo_dl1"
CONN_ID = "lstflow_slurm"
PARAMETERS = "dl1/event/telescope/parameters/LST_LSTCam"
ROWS_PER_FILE = {"gamma": 1, "proton": 2}  # what lstchain 0.12.3 writes for each real file
#: Modules of the development tooling: the wheel must hold none of them.
DEV_MODULES = ("localcluster", "testdata", "demo", "demo_data", "synthetic_dl1", "synthetic")


@dataclass(frozen=True)
class Site:
    """A deployment outside the checkout: its venv, Airflow home, dags folder, library, data."""

    root: Path
    venv: Path
    home: Path
    dags: Path
    library: Path
    data: Path
    #: All the site's commands get: no PYTHONPATH, no LSTFLOW_* variable.
    env: dict[str, str]

    def run(self, *argv: str, timeout: float = 900) -> str:
        result = subprocess.run(
            argv, env=self.env, cwd=self.root, capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stderr[-4000:]}"
        return result.stdout


def run_checked(argv: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stderr[-4000:]}"


def checkout_files() -> list[str]:
    """The checkout's files as git sees them (tracked, and new ones not ignored)."""
    listed = subprocess.run(
        ["git", "-C", str(CHECKOUT), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listed.splitlines() if (CHECKOUT / name).is_file()]


@pytest.fixture(scope="module")
def wheel_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel`` of a clean copy of the checkout (no stale ``build/`` of an earlier build
    can slip into it; dependencies come from the index)."""
    source = tmp_path_factory.mktemp("source")
    for name in checkout_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(CHECKOUT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    run_checked(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)]
    )
    (wheel,) = out.glob("lstflow-*.whl")
    return wheel


def constraints_text() -> str:
    """Airflow's constraints file from ``$LSTFLOW_AIRFLOW_CONSTRAINTS`` (a path), else the
    checkout venv's own pins (lstflow itself left out)."""
    given = os.environ.get(CONSTRAINTS_VARIABLE)
    if given:
        return Path(given).read_text()
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    return "".join(
        f"{line}\n"
        for line in frozen.splitlines()
        if "==" in line and not line.lower().startswith("lstflow==")
    )


def wheelhouse(wheel: Path, constraints: Path) -> Path:
    """Every wheel the install needs, downloaded once per constraints and pyproject.toml."""
    key = hashlib.sha256(
        constraints.read_bytes() + (CHECKOUT / "pyproject.toml").read_bytes()
    ).hexdigest()[:16]
    house = CACHE / "wheelhouse" / key
    if not (house / ".complete").is_file():
        shutil.rmtree(house, ignore_errors=True)
        house.mkdir(parents=True)
        run_checked(
            [sys.executable, "-m", "pip", "download", "-q", "-d", str(house), "-c",
             str(constraints), AIRFLOW_REQUIREMENT, str(wheel)],
        )  # fmt: skip
        (house / ".complete").touch()
    return house


def prepare_data(data: Path, user: str) -> None:
    """The demo production's DL0 tree (links to the real simtel files), owned by the job user,
    who writes the outputs and the production logs there."""
    for particle, (name, copies) in demo.DL0_LINKS.items():
        dl0 = data / "demo" / "DL0" / particle
        dl0.mkdir(parents=True)
        for run in range(1, copies + 1):
            (dl0 / f"{particle}_run{run}.simtel.zst").symlink_to(testdata.simtel_file(name))
    (data / "prod_logs").mkdir()
    run_checked(["chown", "-R", f"{user}:{user}", str(data)])


@pytest.fixture(scope="module")
def site(wheel_file: Path) -> Iterator[Site]:
    """A fresh venv with the wheel installed, and the site's folders, all outside the checkout."""
    root = Path(tempfile.mkdtemp(prefix="lstflow-deployment-"))
    root.chmod(0o755)  # the job user reads the data below it
    site = Site(
        root=root,
        venv=root / "venv",
        home=root / "airflow",
        dags=root / "dags",
        library=root / "library",
        data=root / "data",
        env={
            "PATH": f"{root / 'venv' / 'bin'}:/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "AIRFLOW_HOME": str(root / "airflow"),
            # Only because other Airflow stacks may run on this machine: ports of its own.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        },
    )
    constraints = root / "constraints.txt"
    constraints.write_text(constraints_text())
    house = wheelhouse(wheel_file, constraints)
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    run_checked([str(base_python), "-m", "venv", str(site.venv)])
    run_checked(
        [str(site.venv / "bin" / "pip"), "install", "-q", "--no-index", "--find-links",
         str(house), "-c", str(constraints), str(wheel_file), AIRFLOW_REQUIREMENT],
        env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")},
    )  # fmt: skip
    try:
        yield site
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_wheel_holds_the_package_data_and_no_development_tooling(wheel_file: Path) -> None:
    names = set(zipfile.ZipFile(wheel_file).namelist())
    package_files = {
        name.removeprefix("plugins/")
        for name in checkout_files()
        if name.startswith("plugins/lstflow/")
    }
    data_files = {name for name in package_files if not name.endswith(".py")}
    assert any(name.endswith(".sbatch.j2") for name in data_files)  # the template is data
    assert package_files <= names, sorted(package_files - names)
    top_level = {name.split("/")[0] for name in names if not name.startswith("lstflow-")}
    assert top_level == {"lstflow"}
    modules = {Path(name).stem for name in names if name.endswith(".py")}
    assert modules.isdisjoint(DEV_MODULES), sorted(modules & set(DEV_MODULES))


def test_the_installed_wheel_runs_a_production_on_postgresql_against_the_cluster(
    site: Site, slurm_cluster: localcluster.ClusterInfo
) -> None:
    probe = "import json, sys, lstflow; print(json.dumps([lstflow.__file__, sys.path]))"
    where = json.loads(site.run(str(site.venv / "bin" / "python"), "-c", probe))
    assert Path(where[0]).is_relative_to(site.venv)
    assert [path for path in where[1] if path.startswith(str(CHECKOUT))] == []

    shutil.copytree(
        CHECKOUT / "include" / "production_configs" / "demo" / PROD_ID, site.library / PROD_ID
    )
    prepare_data(site.data, localcluster.cluster_env()["SLURM_SSH_USER"])
    server = postgres.up()
    database = postgres.unique_database_name("deployment")
    api_port = free_port()
    database_url = server.create_database(database)
    stack = AirflowStack(
        site.home,
        site.dags,
        site.env,
        api_port,
        server,
        database,
        airflow_command=site.venv / "bin" / "airflow",
        api_apps="all",
    )
    lstflow, airflow = str(site.venv / "bin" / "lstflow"), str(site.venv / "bin" / "airflow")
    try:
        site.run(
            lstflow, "init", "--airflow-home", str(site.home), "--dags-folder", str(site.dags),
            "--production-configs", str(site.library), "--ssh-conn-id", CONN_ID,
            "--api-port", str(api_port), "--sql-alchemy-conn", database_url,
            "--log-root", str(site.data / "prod_logs"), "--poll-interval", "5",
            "--config-variable", f"LSTFLOW_DATA_ROOT={site.data}",
            "--config-variable", f"LSTFLOW_ANALYSIS_ENV={sys.prefix}",
        )  # fmt: skip
        site.run(lstflow, "dags", "write", str(site.dags))
        connection = slurm_cluster.connection_json  # ssh, host key pinned
        site.run(airflow, "connections", "add", CONN_ID, "--conn-json", connection)
        stack.start()
        dag_id = dag_id_for(PROD_ID)
        stack.wait_for_dag(dag_id)
        stack.airflow("dags", "unpause", dag_id)
        run_id = stack.trigger(dag_id, "deployment")
        states = stack.wait_for_tasks(
            dag_id, run_id, all_in(FINISHED_TI_STATES), "every stage to end", timeout=1200
        )
        assert set(states.values()) == {"success"}, states
        run_state = stack.wait(
            lambda: stack.query(
                "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s "
                "AND state IN ('success', 'failed')",
                (dag_id, run_id),
            ),
            120,
            "the scheduler to end the DAG run",
        )
        assert run_state == [("success",)]
        assert stack.query("SELECT filename, stacktrace FROM import_error") == []
    finally:
        stack.close()

    for particle, (_, copies) in demo.DL0_LINKS.items():
        outputs = sorted((site.data / "demo" / "DL1" / particle).glob("dl1_*.h5"))
        assert [path.name for path in outputs] == [
            f"dl1_{particle}_run{run}.h5" for run in range(1, copies + 1)
        ]
        merged = site.data / "demo" / "DL1" / "merged" / f"dl1_{particle}_merged.h5"
        with h5py.File(merged, "r") as file:
            assert file[PARAMETERS].shape[0] == ROWS_PER_FILE[particle] * copies
