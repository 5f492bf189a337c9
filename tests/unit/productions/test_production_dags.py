"""The DAG factory as Airflow's DagBag sees it: one DAG per production, bad configs isolated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException
from airflow.serialization.serialized_objects import DagSerialization

from lstflow.config import load_production
from lstflow.product_base.assets import models_asset
from lstflow.productions.dag_factory import INVALID_DAG_ID, build_invalid_configs_dag
from lstflow.productions.naming import dag_id_for
from lstflow.productions.production_dag import LOGICAL_DATE_NOTE
from lstflow.productions.run_provenance import analysis_versions
from lstflow.productions.stage_operator import load_for_run
from lstflow.slurm.operator import SlurmArrayFailed, SlurmArrayOperator
from lstflow.slurm.slurm_argv import CommandResult
from lstflow_dev.testdata import production_samples_dir

pytestmark = pytest.mark.unit

DAGS_FOLDER = Path(__file__).resolve().parents[3] / "dags"
DAG_FILE = DAGS_FOLDER / "lstflow_productions.py"
SAMPLE_IDS = {
    "20240122_v0.10.4_prod5_trans80",
    "20240430_v0.10.4_src9_dec3476_tuned",
    "20240716_v0.10.7_src10_dec3476_tuned",
}
TYPO_CONFIG = """\
workflow_kind: lstchain
prod_id: typo_prod
source_environment: {source_file: /env/bin/activate}
stages_to_run: [merge_dl1]
stages:
  merge_dl1:
  - input: /data/in
    ouput: /data/out.h5
"""


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(production_samples_dir(), tmp_path / "library")
    broken = tmp_path / "library" / "broken"
    broken.mkdir()
    (broken / "lstmcpipe_config_typo.yaml").write_text(TYPO_CONFIG)
    (broken / "lstchain_config.json").write_text("{}")
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(tmp_path / "library"))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PARSE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "library"


def test_one_dag_per_valid_header_and_every_bad_config_is_an_import_error(library: Path) -> None:
    dagbag = DagBag(str(DAGS_FOLDER))
    productions = {dag_id_for(prod_id) for prod_id in SAMPLE_IDS}
    # The typo is in an entry: the DAG is built from the header, its stage fails when it runs.
    assert set(dagbag.dags) == productions | {"mc_typo_prod", "lstflow_nightly"}
    # The error belongs to its own file: Airflow marks every DAG of an erroring file stale.
    assert [Path(name).name for name in dagbag.import_errors] == ["lstflow_config_errors.py"]
    (error,) = dagbag.import_errors.values()
    assert "1 production config(s) could not be loaded or have invalid entries" in error
    assert (
        f"{library}/broken/lstmcpipe_config_typo.yaml: stages.merge_dl1[0]: unknown key "
        "'ouput' (did you mean 'output'?)"
    ) in error
    assert INVALID_DAG_ID not in dagbag.dags


def test_a_bad_header_gives_no_dag(library: Path) -> None:
    typo = library / "broken" / "lstmcpipe_config_typo.yaml"
    typo.write_text(TYPO_CONFIG.replace("stages_to_run: [merge_dl1]", "stages_to_run: [merge]"))
    dagbag = DagBag(str(DAGS_FOLDER))
    assert "mc_typo_prod" not in dagbag.dags
    (error,) = dagbag.import_errors.values()
    assert f"{typo}: stages_to_run[0]: unknown stage 'merge'" in error


def test_entries_are_validated_within_the_time_budget(library: Path) -> None:
    cache = library.parent / "cache"
    # No time for the entries: the typo is found on a later parse (none here), nothing reported.
    assert build_invalid_configs_dag(library, cache, budget=0.0) == {}
    (dag,) = build_invalid_configs_dag(library, cache).values()
    assert [problem.count("ouput") for problem in dag.problems] == [1]
    typo = library / "broken" / "lstmcpipe_config_typo.yaml"
    typo.write_text(TYPO_CONFIG.replace("stages_to_run: [merge_dl1]", "stages_to_run: [merge]"))
    # Header problems are always complete; the message says the entries' check is not.
    (dag,) = build_invalid_configs_dag(library, cache, budget=0.0).values()
    with pytest.raises(ValueError) as shown:
        dag.validate()
    assert "1 production config(s) could not be loaded" in str(shown.value)
    assert f"{typo}: stages_to_run[0]: unknown stage 'merge'" in str(shown.value)
    assert str(shown.value).endswith(
        "(3 more config(s) not fully validated yet: the next parses of this file check them)"
    )


def test_a_bad_entry_fails_the_stage_task_with_the_message(library: Path) -> None:
    config = library / "broken" / "lstmcpipe_config_typo.yaml"
    with pytest.raises(AirflowFailException) as failed:
        load_for_run({"typo": str(config)}, {"config": "typo"})
    assert f"{config}: stages.merge_dl1[0]: unknown key 'ouput' (did you mean 'output'?)" in str(
        failed.value
    )


def test_a_worker_reads_only_its_productions_config(
    library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(DagBag(str(DAG_FILE)).dags) == 4  # the dag-processor's parse writes the index
    dag_id = dag_id_for("20240122_v0.10.4_prod5_trans80")
    read: list[Path] = []
    real_read_bytes = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        read.append(path)
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    for parse_cache in ("warm", "cold"):
        if parse_cache == "cold":
            for entry in (library.parent / "cache").glob("*.pickle"):
                entry.unlink()
        monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", dag_id)
        assert set(DagBag(str(DAG_FILE)).dags) == {dag_id}
    yamls = {path.name for path in read if path.suffix == ".yaml"}
    assert yamls == {"lstmcpipe_config_2024-01-22_PathConfigProd5Trans80.yaml"}


def test_dag_id_is_mc_plus_the_sanitised_prod_id() -> None:
    assert dag_id_for("20240122_v0.10.4_prod5_trans80") == "mc_20240122_v0.10.4_prod5_trans80"
    assert dag_id_for("my prod/v1") == "mc_my_prod_v1"


def test_dag_shape_params_tags_doc_and_schedule(library: Path) -> None:
    dag = DagBag(str(DAG_FILE)).dags[dag_id_for("20240122_v0.10.4_prod5_trans80")]
    stages = [
        "r0_to_dl1",
        "train_test_split",
        "merge_dl1",
        "train_pipe",
        "plot_rf_feat",
        "dl1_to_dl2",
        "dl2_to_irfs",
        "dl2_to_sensitivity",
    ]
    assert [task.task_id for task in dag.topological_sort()] == [*stages, "provenance"]
    assert dag.get_task("dl1_to_dl2").upstream_task_ids == {"merge_dl1", "train_pipe"}
    assert dag.get_task("dl2_to_sensitivity").upstream_task_ids == {"dl1_to_dl2"}
    assert dag.schedule is None
    assert dag.is_paused_upon_creation is False
    assert set(dag.tags) == {*stages, "env:lstchain-v0.10.7"}
    assert dag.params["stages"] == stages
    # a multi-select of the production's own stages, each with what it runs
    picker = dag.params.get_param("stages").schema
    assert picker["examples"] == stages and picker["items"]["enum"] == stages
    assert picker["values_display"]["merge_dl1"] == (
        "merge_dl1: merge DL1 files (lstchain_merge_hdf5_files)"
    )
    assert dag.params["config"] == (
        "20240122_v0.10.4_prod5_trans_80/lstmcpipe_config_2024-01-22_PathConfigProd5Trans80.yaml"
    )
    assert dag.params["dry_run"] is False
    assert dag.params["overwrite"] == "refuse"
    assert "prod5" in (dag.doc_md or "").lower()


def test_only_a_trigger_runs_a_production_and_its_form_says_the_logical_date_is_unused(
    library: Path,
) -> None:
    """Manual runs only (UI, CLI, API, ``dag.test()``): the dag table takes the list from the
    serialized DAG, so the API refuses a backfill and the trigger form disables Backfill."""
    dag = DagBag(str(DAG_FILE)).dags[dag_id_for("20240122_v0.10.4_prod5_trans80")]
    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    for built in (dag, scheduler_dag):
        assert {run_type.value for run_type in built.allowed_run_types or ()} == {"manual"}
    # The form's first field, just below the Logical Date that Airflow always shows.
    assert next(iter(dag.params)) == "config"
    assert LOGICAL_DATE_NOTE in (dag.params.get_param("config").description or "")


def test_stage_tasks_run_unless_an_upstream_failed(library: Path) -> None:
    dag = DagBag(str(DAG_FILE)).dags[dag_id_for("20240716_v0.10.7_src10_dec3476_tuned")]
    stage_tasks = [task for task in dag.tasks if not task.is_teardown]
    assert {task.trigger_rule for task in stage_tasks} == {"none_failed"}


def test_tasks_retry_infrastructure_faults_but_not_failed_elements(
    library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag = DagBag(str(DAG_FILE)).dags[dag_id_for("20240716_v0.10.7_src10_dec3476_tuned")]
    # An SSH drop or a sacct outage fails a try; the next one re-attaches to the stored plan.
    assert {task.retries for task in dag.tasks} == {4}
    assert {task.retry_exponential_backoff for task in dag.tasks} == {2.0}

    def elements_failed(*_: object) -> None:
        raise SlurmArrayFailed("merge_dl1: 1 of 2 elements failed")

    monkeypatch.setattr(SlurmArrayOperator, "_finish", elements_failed)
    stage = dag.get_task("merge_dl1")
    # Elements had their own retries: the stage fails for good, with the same report.
    with pytest.raises(AirflowFailException, match="1 of 2 elements failed"):
        stage._finish(None, None, None, {})  # type: ignore[attr-defined]


def test_provenance_reports_an_analysis_python_that_prints_no_versions() -> None:
    config = next((production_samples_dir() / "20240122_v0.10.4_prod5_trans_80").glob("*.yaml"))

    class SilentPython:
        def run(self, command: str) -> CommandResult:
            return CommandResult(command, 0, "", "")

    versions = analysis_versions(SilentPython(), load_production(config))  # type: ignore[arg-type]

    assert versions == {"error": "no versions printed: ''"}


def test_lineage_runs_give_a_feeder_and_one_watcher_group_per_lineage(
    library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[lstflow] lineage_runs``: plan_and_submit, then the mapped group ``lineage`` whose
    watchers keep the stage order; built from the header alone, like the stage-by-stage DAG."""
    monkeypatch.setenv("AIRFLOW__LSTFLOW__LINEAGE_RUNS", "True")
    dag = DagBag(str(DAG_FILE)).dags[dag_id_for("20240430_v0.10.4_src9_dec3476_tuned")]
    watchers = [t for t in dag.task_ids if t.startswith("lineage.")]
    assert set(dag.task_ids) == {"plan_and_submit", "provenance", "models_ready", *watchers}
    # Every watcher reads the feeder's groups; inside the group, the stage order.
    upstream = dag.get_task("lineage.train_pipe").upstream_task_ids
    assert upstream == {"lineage.merge_dl1", "plan_and_submit"}
    assert "lineage.dl1_to_dl2" in dag.get_task("lineage.train_pipe").downstream_task_ids
    # ... but all of them start once the feeder submitted: Slurm holds the stage order.
    assert {dag.get_task(t).trigger_rule for t in watchers} == {"one_success"}
    # The models Asset comes after every group's training, from a task of its own: no watcher
    # has outlets, so each may end from the triggerer.
    models_ready = dag.get_task("models_ready")
    assert models_ready.outlets == [models_asset("20240430_v0.10.4_src9_dec3476_tuned")]
    assert models_ready.upstream_task_ids == {"lineage.train_pipe"}
    assert not any(dag.get_task(t).outlets for t in watchers)
    assert "models_ready" in dag.get_task("provenance").upstream_task_ids
