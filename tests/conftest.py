"""Shared fixtures and the tier guard; the local-cluster logic lives in
``lstflow_dev.localcluster``.

Every test carries exactly one tier marker (unit, cluster, e2e, browser, reliability,
deployment, load). With ``LSTFLOW_REQUIRE_ALL_TIERS=1`` (``make test`` sets it), a run fails when a
tier that has tests in this checkout ran none, or when any test was skipped: a green run means
every tier ran.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import postgres
from support.demo_run import DemoRun

from lstflow.commands.init import render_config
from lstflow_dev import localcluster

TIERS = ("unit", "cluster", "e2e", "browser", "reliability", "deployment", "load")
CHECKOUT = Path(__file__).resolve().parents[1]
# pytest-xdist runs the tiers in parallel workers (gw0, gw1, ...): each worker gets its own
# AIRFLOW_HOME, PostgreSQL metadata database, api port and log root, so dag.test() runs and the
# browser tier's api-server never share state.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKER_NUMBER = int(WORKER[2:]) if WORKER.startswith("gw") else 0
SUFFIX = f"-{WORKER}" if WORKER else ""
AIRFLOW_HOME = CHECKOUT / ".lstflow" / f"airflow-tests{SUFFIX}"
METADATA_DATABASE = f"lstflow_tests{SUFFIX.replace('-', '_')}"
# The demo's data of this session (the ``demo_data`` fixture), named in airflow.cfg's
# config_variables as `make airflow-init` names .lstflow/data: every Airflow process of the
# tests expands the demo configs from airflow.cfg, with nothing exported.
DEMO_DATA_ROOT = CHECKOUT / ".lstflow" / "test-data" / f"run-{os.getpid()}"
POSTGRES = postgres.up()

# Airflow reads its configuration when first imported, so the tests' own AIRFLOW_HOME is
# rendered here, before any test module is imported; short poll intervals suit the local cluster.
AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
(AIRFLOW_HOME / "airflow.cfg").write_text(
    render_config(
        AIRFLOW_HOME,
        # Several checkouts of one machine (helpers' worktrees) each set their own base.
        api_port=int(os.environ.get("LSTFLOW_TEST_API_PORT", "18080")) + WORKER_NUMBER,
        executor="LocalExecutor",
        sql_alchemy_conn=POSTGRES.url(METADATA_DATABASE),
        log_root=str(CHECKOUT / ".lstflow" / "test-data" / f"prod_logs{SUFFIX}"),
        poll_interval=2.0,
        config_variables={
            "LSTFLOW_DATA_ROOT": str(DEMO_DATA_ROOT),
            "LSTFLOW_ANALYSIS_ENV": sys.prefix,
        },
        dags_folder=CHECKOUT / "dags",
        production_configs=CHECKOUT / "include" / "production_configs",
    )
)
os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)


@pytest.fixture(scope="session")
def slurm_cluster() -> localcluster.ClusterInfo:
    """The machine-wide local Slurm-over-SSH cluster, brought up (or re-probed) once per session.

    Its Airflow connection (host key pinned) is exported as ``AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM``.
    """
    info = localcluster.up()
    os.environ["AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM"] = info.connection_json
    return info


@pytest.fixture
def cluster_workdir(
    slurm_cluster: localcluster.ClusterInfo, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """A fresh directory owned by the job user, usable as a job's ``--chdir`` and log dir."""
    path = localcluster.make_workdir(request.node.name)
    yield path
    localcluster.remove_workdir(path)


@pytest.fixture(scope="session")
def metadata_database() -> tuple[postgres.PostgresServer, str]:
    """The worker's own PostgreSQL metadata database, new for each session (not migrated)."""
    POSTGRES.create_database(METADATA_DATABASE)
    return POSTGRES, METADATA_DATABASE


@pytest.fixture(scope="session")
def airflow_db(metadata_database: tuple[postgres.PostgresServer, str]) -> Path:
    """The tests' AIRFLOW_HOME with its metadata DB migrated, for ``dag.test()``."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, timeout=600)
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def demo_run(
    slurm_cluster: localcluster.ClusterInfo,
    airflow_db: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> DemoRun:
    """The demo productions, run once per session through ``dag.test()`` on the local Slurm,
    quietly (progress on a console, logs in a file) like ``make demo``."""
    from lstflow_dev import demo
    from lstflow_dev.demo_console import run_quietly

    console = io.StringIO()
    log_path = tmp_path_factory.mktemp("demo_log") / "demo.log"
    states = run_quietly(DEMO_DATA_ROOT, {"overwrite": "refuse"}, console, log_path)
    assert states == {prod_id: "success" for prod_id in demo.PRODUCTIONS}, console.getvalue()
    return DemoRun(DEMO_DATA_ROOT / "demo", console.getvalue(), log_path)


@pytest.fixture(scope="session")
def demo_data(demo_run: DemoRun) -> Path:
    """The demo data directory (``<data root>/demo``) after the demo productions ran."""
    return demo_run.root


# ---- tier guard ----------------------------------------------------------------------------

_outcomes: dict[str, Counter[str]] = {tier: Counter() for tier in TIERS}


def _tier(item: pytest.Item) -> str | None:
    """The test's tier: its own marker if it has one (it overrides its module's), else the
    module's or class's; None when missing or ambiguous."""
    own = [marker.name for marker in item.own_markers if marker.name in TIERS]
    tiers = own or [tier for tier in TIERS if item.get_closest_marker(tier)]
    return tiers[0] if len(tiers) == 1 else None


TIER_PROPERTY = "lstflow_tier"


@pytest.hookimpl(tryfirst=True)  # xdist's own hook then turns the groups into work units
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [item.nodeid for item in items if _tier(item) is None]
    if unmarked:
        raise pytest.UsageError(
            "every test needs exactly one tier marker (" + ", ".join(TIERS) + "); missing or "
            "ambiguous on:\n  " + "\n  ".join(unmarked)
        )
    for item in items:
        # The tier travels in the test's reports, which xdist sends from its workers to the
        # controller (that collects nothing itself) for the guard below.
        item.user_properties.append((TIER_PROPERTY, _tier(item)))
        if item.get_closest_marker("xdist_group") is None:
            # A module's tests share module fixtures (an Airflow stack, an isolated cluster, a
            # fixed work directory): under xdist one worker runs all of them.
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tier = dict(report.user_properties).get(TIER_PROPERTY)
    if tier is None:
        return
    if report.skipped:
        _outcomes[tier]["skipped"] += 1
    elif report.when == "call":
        _outcomes[tier]["passed" if report.passed else "failed"] += 1


def existing_tiers() -> list[str]:
    """The tiers that have tests in this checkout: all of them must run."""
    return [tier for tier in TIERS if any((CHECKOUT / "tests" / tier).glob("**/test_*.py"))]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Under xdist each worker sees only its share: the controller judges the whole run.
    if not os.environ.get("LSTFLOW_REQUIRE_ALL_TIERS") or hasattr(session.config, "workerinput"):
        return
    required = existing_tiers()
    problems = [f"tier '{t}' ran no test" for t in required if not _outcomes[t]["passed"]]
    problems += [
        f"tier '{t}' skipped {counts['skipped']} test(s)"
        for t, counts in _outcomes.items()
        if counts["skipped"]
    ]
    summary = ", ".join(f"{t}: {dict(c)}" for t, c in _outcomes.items() if c)
    print(f"\nlstflow tiers: {summary}")
    if problems:
        print("lstflow tier guard FAILED: " + "; ".join(problems))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
