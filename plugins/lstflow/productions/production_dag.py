"""One Airflow DAG per production: one task per stage in lstmcpipe's order, or lineage-aware.

A production is every config of one prod_id (``lstflow.config.parts``): its DAG has the union
of their stages, and each run picks one config through the ``config`` trigger param (the default
part unless the user chooses another); the stages that config does not run are skipped.

Only the configs' headers are used here (no entries, no globbing of data directories, no DB or
network access), so parsing a whole production library stays cheap: the work items are planned
(and the entries read and validated) when each stage task runs.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, Param, task_group
from airflow.sdk.api.datamodels._generated import DagRunType
from airflow.sdk.definitions._internal.node import DAGNode

from lstflow.config.contained_files import read_readme
from lstflow.config.model import ProductionHeader
from lstflow.config.parts import ProductionParts
from lstflow.product_base.assets import models_asset
from lstflow.product_base.options import SlurmTaskSettings
from lstflow.product_base.task_retries import TASK_RETRIES
from lstflow.productions.lineage_operators import (
    FEEDER_TASK_ID,
    LINEAGE_GROUP_ID,
    LineageFeederOperator,
    LineageStageOperator,
)
from lstflow.productions.naming import dag_id_for
from lstflow.productions.run_provenance import TASK_ID as PROVENANCE_TASK_ID
from lstflow.productions.run_provenance import ProductionProvenanceOperator
from lstflow.productions.stage_operator import CONFIG_PARAM, ProductionStageOperator
from lstflow.stages.registry import effective_upstream, stages_to_run

OVERWRITE_POLICIES = ("refuse", "skip", "overwrite")
#: A lineage-aware run's holder of the models Asset (see ``_lineage_tasks``).
MODELS_READY_TASK_ID = "models_ready"
#: Shown under the form's first field, just below Airflow's Logical Date, which no form option
#: hides for a DAG without a schedule.
LOGICAL_DATE_NOTE = (
    "Airflow's Logical Date above is not used by productions: the outputs come from the "
    "config, and the run is named by its run id."
)
# What each stage runs, shown beside its name in the trigger form's stage picker.
STAGE_LABELS = {
    "r0_to_dl1": "r0_to_dl1: R0 to DL1 (lstchain_mc_r0_to_dl1)",
    "dl1ab": "dl1ab: DL1 images to new DL1b parameters (lstchain_dl1ab)",
    "train_test_split": "train_test_split: split DL1 files into train and test",
    "merge_dl1": "merge_dl1: merge DL1 files (lstchain_merge_hdf5_files)",
    "train_pipe": "train_pipe: train the random forests (lstchain_mc_trainpipe)",
    "plot_rf_feat": "plot_rf_feat: feature-importance plot of the models",
    "dl1_to_dl2": "dl1_to_dl2: DL1 to DL2 (lstchain_dl1_to_dl2)",
    "dl2_to_irfs": "dl2_to_irfs: IRFs (lstchain_create_irf_files)",
    "dl2_to_sensitivity": "dl2_to_sensitivity: sensitivity curve and plots (pyirf)",
}


def production_params(stages: tuple[str, ...], configs: tuple[str, ...]) -> dict[str, Param]:
    """The trigger form: which config and stages, dry run, and what to do about existing outputs.

    ``configs``: the labels of the production's configs, the default first. ``stages`` is a
    multi-select of this production's own stages (Airflow's form turns an array with
    ``examples`` into a pick list; ``enum`` items keep the API from accepting others).
    """
    return {
        CONFIG_PARAM: Param(
            configs[0],
            type="string",
            enum=list(configs),
            description=(
                "Which config of this production to run (configs sharing a prod_id are parts of "
                "one production). Default: the one whose stages cover the others', else the "
                f"alphabetically first. Stages it does not run are skipped. {LOGICAL_DATE_NOTE}"
            ),
        ),
        "stages": Param(
            list(stages),
            type="array",
            items={"type": "string", "enum": list(stages)},
            examples=list(stages),
            values_display={stage: STAGE_LABELS.get(stage, stage) for stage in stages},
            title="Stages",
            description="Stages to run in this trigger (all of them by default); the others "
            "are skipped. plot_rf_feat runs with train_pipe.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="A safe preview: plan every stage, log its lstchain command lines and "
            "what each overwrite policy would do; submit, write and move nothing.",
        ),
        "overwrite": Param(
            "refuse",
            type="string",
            enum=list(OVERWRITE_POLICIES),
            title="Existing outputs",
            description=(
                "When a stage's outputs already exist: refuse (fail, touch nothing), skip the "
                "elements whose outputs exist, or overwrite them (old outputs are renamed aside)."
            ),
        ),
    }


def production_tags(production: ProductionHeader, stages: tuple[str, ...]) -> list[str]:
    env = production.source_environment
    environment = env.conda_env or env.source_file
    return [*stages, f"env:{environment}"[:100]]


def production_doc(production: ProductionParts[ProductionHeader]) -> str:
    """The default config's README, and the list of configs when there are several."""
    default = production.default
    if default.readme is not None:
        doc = read_readme(default.readme)
    else:
        doc = f"Production `{production.prod_id}` from `{default.path}` (no README.md)."
    if len(production.configs) > 1:
        parts = "\n".join(
            f"- `{label}`: {', '.join(production.find(label).stages_to_run)}"
            for label in production.labels
        )
        doc += f"\n\n## Configs of this production (trigger param `config`)\n\n{parts}\n"
    return doc


def build_production_dag(
    production: ProductionParts[ProductionHeader],
    settings: SlurmTaskSettings,
    *,
    lineage: bool = False,
) -> DAG:
    """``settings``: ``product_base.options.slurm_task_settings()``, read once per library;
    ``lineage``: the lineage-aware shape (``[lstflow] lineage_runs``, docs/lineage.md)."""
    stages = stages_to_run(production)
    config_paths = {label: str(production.find(label).path) for label in production.labels}
    with DAG(
        dag_id=dag_id_for(production.prod_id),
        schedule=None,
        catchup=False,
        max_active_runs=1,
        # A production is not a time series: only a trigger (UI, CLI, API, dag.test) runs it;
        # Airflow refuses any other run type, a backfill among them (its UI disables the choice).
        allowed_run_types=[DagRunType.MANUAL],
        is_paused_upon_creation=False,
        doc_md=production_doc(production),
        tags=production_tags(production.default, stages),
        dag_display_name=production.prod_id,
        auto_register=False,
        default_args=TASK_RETRIES,
    ) as dag:
        provenance = ProductionProvenanceOperator(
            task_id=PROVENANCE_TASK_ID,
            config_paths=config_paths,
            stages=stages,
            ssh_conn_id=settings.ssh_conn_id,
            lineage=lineage,
        )
        if lineage:
            _lineage_tasks(production.prod_id, stages, config_paths, settings) >> provenance
        else:
            tasks = {
                stage: ProductionStageOperator(
                    task_id=stage,
                    config_paths=config_paths,
                    stage=stage,
                    **settings.operator_kwargs(),
                    # The models directory is an Asset: nights reading these models declare it.
                    outlets=_outlets(production.prod_id, stage),
                )
                for stage in stages
            }
            for stage, task in tasks.items():
                for upstream in effective_upstream(stage, stages):
                    tasks[upstream] >> task
            list(tasks.values()) >> provenance
        # Last, whatever happened (all done): what ran, with which software and resources. A
        # teardown, so it never decides the run's state: a failed stage still fails the run.
        provenance.as_teardown()
    # Set after the tasks: each operator would deep-copy the DAG's params into its own (the
    # largest part of building the DAG), and tasks read them from the DAG run anyway.
    dag.params = production_params(stages, production.labels)  # type: ignore[assignment]
    return dag


def _outlets(prod_id: str, stage: str) -> list[Asset]:
    return [models_asset(prod_id)] if stage == "train_pipe" else []


def _lineage_tasks(
    prod_id: str,
    stages: tuple[str, ...],
    config_paths: dict[str, str],
    settings: SlurmTaskSettings,
) -> list[DAGNode]:
    """The feeder, then one mapped task group ``lineage`` per lineage group (named by it in the
    grid) holding one watcher per stage in stage order, and ``models_ready``; returns the last
    nodes.

    The models Asset is ``models_ready``'s, after every group's training: a task with outlets
    cannot end from the triggerer (Airflow emits asset events only from a worker), so a
    training watcher with them would cost its group's chain a worker round trip, and a
    production's models are ready when all its declinations' are.
    """
    feeder = LineageFeederOperator(
        task_id=FEEDER_TASK_ID, config_paths=config_paths, ssh_conn_id=settings.ssh_conn_id
    )
    models_ready = (
        EmptyOperator(task_id=MODELS_READY_TASK_ID, outlets=[models_asset(prod_id)])
        if "train_pipe" in stages
        else None
    )

    @task_group(group_id=LINEAGE_GROUP_ID)
    def lineage(group: str) -> None:
        watchers = {
            stage: LineageStageOperator(
                task_id=stage,
                stage=stage,
                lineage_group=group,
                **settings.operator_kwargs(),
            )
            for stage in stages
        }
        for stage, watcher in watchers.items():
            for upstream in effective_upstream(stage, stages):
                watchers[upstream] >> watcher
        if models_ready is not None:
            watchers["train_pipe"] >> models_ready  # waits for every group's training

    groups: DAGNode = lineage.expand(group=feeder.output)
    return [groups] if models_ready is None else [groups, models_ready]
