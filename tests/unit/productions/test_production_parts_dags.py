"""Configs sharing a prod_id through the DAG factory: one DAG per prod_id, a ``config`` trigger
param listing its configs (default first), the union of their stages, each config triggerable
(a stage its config does not run is skipped), and the real library cases of ../shared/data."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from support.library_cases import (
    LATER_PROD_ID,
    LEGACY_2022,
    SHARED_PROD_ID,
    SharedProdIdLibrary,
    write_shared_prod_id_library,
)

from lstflow.productions.naming import dag_id_for
from lstflow.productions.stage_operator import ProductionStageOperator, load_for_run
from lstflow_dev.checkout import CHECKOUT_ROOT
from lstflow_dev.testdata import production_samples_dir

pytestmark = pytest.mark.unit

DAG_FILE = CHECKOUT_ROOT / "dags" / "lstflow_productions.py"
ERRORS_FILE = CHECKOUT_ROOT / "dags" / "lstflow_config_errors.py"
CASES = production_samples_dir().parent / "lstmcpipe_library_cases"


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SharedProdIdLibrary:
    files = write_shared_prod_id_library(tmp_path / "library", "/data")
    legacy = tmp_path / "library" / "20220523_allsky_legacy"
    legacy.mkdir()
    (legacy / "lstchain_config.json").write_text("{}")
    (legacy / "lstmcpipe_config.yaml").write_text(LEGACY_2022)
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(files.root))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PARSE_CACHE_DIR", str(tmp_path / "cache"))
    return files


def test_one_dag_per_prod_id_with_a_config_param(library: SharedProdIdLibrary) -> None:
    dagbag = DagBag(str(DAG_FILE))
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == {
        dag_id_for(SHARED_PROD_ID),
        dag_id_for(LATER_PROD_ID),
        dag_id_for("20220523_allsky_legacy"),
    }
    dag = dagbag.dags[dag_id_for(SHARED_PROD_ID)]
    labels = [
        library.label(path) for path in (library.full, library.partial, library.merge_restart)
    ]
    config = dag.params.get_param("config")
    assert config.value == labels[0]
    assert config.schema["enum"] == labels
    stages = ["r0_to_dl1", "merge_dl1", "train_pipe", "plot_rf_feat", "dl1_to_dl2", "dl2_to_irfs"]
    assert dag.params["stages"] == stages
    assert [task.task_id for task in dag.topological_sort()] == [*stages, "provenance"]
    assert "## Configs of this production (trigger param `config`)" in (dag.doc_md or "")
    assert f"- `{labels[2]}`: merge_dl1" in (dag.doc_md or "")
    # the config-errors DAG file has nothing to report
    assert DagBag(str(ERRORS_FILE)).import_errors == {}


def skip_reason(task: Any, params: dict[str, Any]) -> str:
    """What ``task`` says when it skips itself for ``params`` (it never reaches Slurm here)."""
    context = {"task_state_store": MemoryStore(), "run_id": "manual__1", "params": params}
    with pytest.raises(AirflowSkipException) as skipped:
        task.build_array_spec(context)
    return str(skipped.value)


class MemoryStore:
    def get(self, key: str) -> None:
        return None


def test_each_config_is_triggerable_and_runs_only_its_stages(
    library: SharedProdIdLibrary,
) -> None:
    dag = DagBag(str(DAG_FILE)).dags[dag_id_for(SHARED_PROD_ID)]
    params = {"stages": dag.params["stages"], "dry_run": True, "overwrite": "refuse"}
    restart = library.label(library.merge_restart)
    assert skip_reason(dag.get_task("r0_to_dl1"), {**params, "config": restart}) == (
        f"r0_to_dl1 is not among the stages of config {restart} (merge_dl1)"
    )
    partial = library.label(library.partial)
    assert skip_reason(dag.get_task("plot_rf_feat"), {**params, "config": partial}) == (
        f"plot_rf_feat is not among the stages of config {partial} (r0_to_dl1, merge_dl1)"
    )
    for path in (library.full, library.partial, library.merge_restart):
        chosen = load_for_run(
            dag.get_task("merge_dl1").config_paths, {"config": library.label(path)}
        )
        assert chosen.production.path == path
    # without a choice, a run uses the default config
    assert load_for_run(dag.get_task("merge_dl1").config_paths, {}).production.path == library.full
    with pytest.raises(AirflowFailException, match=r"config 'other\.yaml' is not a config of this"):
        load_for_run(dag.get_task("merge_dl1").config_paths, {"config": "other.yaml"})


def test_parts_that_disagree_give_no_dag_and_an_import_error_naming_both(
    library: SharedProdIdLibrary,
) -> None:
    text = library.merge_restart.read_text()
    library.merge_restart.write_text(
        text.replace("workflow_kind: lstchain", "workflow_kind: ctapipe")
    )
    assert dag_id_for(SHARED_PROD_ID) not in DagBag(str(DAG_FILE)).dags
    (error,) = DagBag(str(ERRORS_FILE)).import_errors.values()
    assert (
        f"{library.merge_restart}: workflow_kind: ctapipe differs from lstchain in {library.full}"
        in error
    )
    assert f"{library.full}: workflow_kind: lstchain differs from ctapipe in" in error


def test_a_worker_reads_only_its_productions_configs(
    library: SharedProdIdLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(DagBag(str(DAG_FILE)).dags) == 3  # the dag-processor's parse writes the index
    dag_id = dag_id_for(SHARED_PROD_ID)
    read: list[Path] = []
    real_read_bytes = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        read.append(path)
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    for entry in (library.root.parent / "cache").glob("*.pickle"):
        entry.unlink()
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", dag_id)
    dag = DagBag(str(DAG_FILE)).dags[dag_id]
    assert dag.params.get_param("config").schema["enum"][0] == library.label(library.full)
    assert {path for path in read if path.suffix in (".yaml", ".yml")} == {
        library.full,
        library.partial,
        library.merge_restart,
    }


def test_the_real_library_cases_get_their_dags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(CASES, tmp_path / "library")
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(tmp_path / "library"))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PARSE_CACHE_DIR", str(tmp_path / "cache"))
    dagbag = DagBag(str(DAG_FILE))
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == {
        dag_id_for("20220523_allsky_std"),
        dag_id_for("20240131_allsky_v0.10.5_all_dec_base"),
    }
    assert DagBag(str(ERRORS_FILE)).import_errors == {}
    dag = dagbag.dags[dag_id_for("20240131_allsky_v0.10.5_all_dec_base")]
    assert dag.params.get_param("config").schema["enum"] == [
        "20240131_allsky_v0.10.5_all_dec_base/lstmcpipe_config_2024-01-31_PathConfigAllSkyFull.yaml",
        "20240131_allsky_v0.10.5_all_dec_base/"
        "lstmcpipe_config_2024-01-31_PathConfigAllSkyFull_fix_dl1_dl2.yaml",
    ]
    fix = dag.params.get_param("config").schema["enum"][1]
    task = dag.get_task("train_pipe")
    assert isinstance(task, ProductionStageOperator)
    params = {"stages": dag.params["stages"], "dry_run": True, "overwrite": "refuse"}
    assert "is not among the stages of config" in skip_reason(task, {**params, "config": fix})
