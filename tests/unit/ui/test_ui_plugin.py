"""The plugin object, its links and the models Asset, as Airflow loads them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.api_fastapi.app import RESERVED_URL_PREFIXES
from airflow.dag_processing.dagbag import DagBag
from airflow.models.dagrun import DagRun

from lstflow.nightly.night_dag import DAG_ID as NIGHTLY_DAG_ID
from lstflow.nightly.run_note import SIMULATE_NOTE
from lstflow.product_base.assets import models_asset, models_uri
from lstflow.productions.naming import dag_id_for
from lstflow.productions.run_note import DRY_RUN_NOTE
from lstflow.ui.app import create_app
from lstflow.ui.plugin import URL_PREFIX, LstflowPlugin

CHECKOUT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.unit


def test_app_is_mounted_on_a_free_prefix_and_every_route_requires_a_dag_reader() -> None:
    [entry] = LstflowPlugin.fastapi_apps
    assert entry["url_prefix"] == URL_PREFIX
    assert not any(URL_PREFIX.startswith(prefix) for prefix in RESERVED_URL_PREFIXES)
    app = create_app()
    assert app.openapi_url is None and app.docs_url is None and app.redoc_url is None
    assert len(app.router.dependencies) == 1


def test_external_views_link_the_nav_a_dag_and_a_dag_run_to_the_pages() -> None:
    views = {view["destination"]: view for view in LstflowPlugin.external_views}
    assert set(views) == {"nav", "dag", "dag_run"}
    assert views["dag"]["href"] == "/lstflow/dags/{DAG_ID}"
    assert views["dag_run"]["href"] == "/lstflow/dags/{DAG_ID}/runs/{RUN_ID}"
    nav = [v["href"] for v in LstflowPlugin.external_views if v["destination"] == "nav"]
    assert nav == ["/lstflow/productions", "/lstflow/nights"]


def test_importing_the_plugin_does_not_import_the_app() -> None:
    """Every Airflow process (the dag-processor too) imports plugins: it must stay light."""
    code = (
        "import sys, lstflow.ui.plugin as p; "
        "print(sorted(m for m in sys.modules if m.startswith(('lstflow.ui.app', 'fastapi'))))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert output.strip() == "[]"


def test_models_asset_names_the_production() -> None:
    asset = models_asset("20240131_allsky")
    assert asset.uri == "lstflow://models/20240131_allsky"
    assert asset.name == "mc-models-20240131_allsky"
    with pytest.raises(ValueError, match="prod_id"):
        models_uri("a/b")


def test_train_pipe_produces_the_models_asset_and_provenance_is_a_last_teardown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LSTFLOW_DATA_ROOT", "/data")
    monkeypatch.setenv("LSTFLOW_ANALYSIS_ENV", "/env")
    dagbag = DagBag(str(CHECKOUT / "dags" / "lstflow_productions.py"))
    dag = dagbag.dags[dag_id_for("lstflow_demo_analysis")]
    assert dag.get_task("train_pipe").outlets == [models_asset("lstflow_demo_analysis")]
    assert all(not t.outlets for t in dag.tasks if t.task_id != "train_pipe")
    provenance = dag.get_task("provenance")
    assert provenance.is_teardown
    assert provenance.upstream_task_ids == {t.task_id for t in dag.tasks} - {"provenance"}


def _run(dag_id: str, conf: dict[str, Any] | None) -> DagRun:
    return DagRun(dag_id=dag_id, run_id="manual__1", conf=conf)


def test_simulated_runs_and_dry_runs_get_a_note_when_they_start_or_end() -> None:
    """The plugin's listener: the scheduler calls it when a run starts, ``dag.test()`` when it
    ends; a note someone wrote stays."""
    listener = LstflowPlugin.listeners[0]
    night = _run(NIGHTLY_DAG_ID, {"simulate": True})
    listener.on_dag_run_running(night, "started")
    assert night.note == SIMULATE_NOTE
    dry = _run("mc_prod", {"dry_run": True, "stages": []})
    listener.on_dag_run_success(dry, "success")
    assert dry.note == DRY_RUN_NOTE
    for other in (
        _run(NIGHTLY_DAG_ID, {}),
        _run("mc_prod", {"simulate": True}),
        _run("mc_prod", {"dry_run": False}),
        _run("other_dag", {"dry_run": True}),
        _run("mc_prod", None),
    ):
        listener.on_dag_run_running(other, "started")
        listener.on_dag_run_failed(other, "task_failure")
        assert other.note is None
    kept = _run(NIGHTLY_DAG_ID, {"simulate": True})
    kept.note = "by hand"
    listener.on_dag_run_running(kept, "started")
    assert kept.note == "by hand"
