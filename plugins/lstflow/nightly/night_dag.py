"""The nightly onsite DAG (lstosa's job): one run per observation night.

Shape of a run (the logical date is the night, see ``NightTimetable``)::

    plan_night → gain_selection → drs4_baseline → charge_calibration → run[run_id]…
               → longterm_datacheck → cherenkov_transparency → provenance_merge → night_close
                                                                      (night_status: always last)
    run[run_id] (one mapped task group per DATA run, subruns are Slurm array elements):
        r0_to_dl1 → (catB_calibration ∥ tailcut_finder) → dl1ab → datacheck_subrun → datacheck_run
        r0_to_dl1 → merge_muons;   dl1ab → merge_dl1 → dl1_to_dl2

A step the night's input state (``legacy_raw``, ``gain_selected``, ``catA_calibrated``) or the
analysis version does not need is skipped with its reason; the steps after it still run.
When ``[lstflow] nightly_alert_to`` names recipients, a Deadline Alert mails them if a night is
not closed ``nightly_close_deadline`` seconds after its run was queued (``night_alert``).

The analysis version (lstchain environment, prod_id, configs, RF models) is the onsite config's
defaults overridden by the DAG-run conf, so a release reprocessing is one
``airflow backfill create --dag-run-conf '{"prod_id": ...}'``; every output directory contains the
prod_id, so it never touches an earlier version's outputs. ``max_active_runs`` bounds how many
nights a backfill runs at once.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from airflow.sdk import DAG, Asset, Param, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowFailException

from lstflow.nightly.job_information import job_information_csv
from lstflow.nightly.night_alert import night_not_closed_alert
from lstflow.nightly.night_options import max_active_nights, onsite_config, slurm_poll_interval
from lstflow.nightly.night_status import (
    ElementRecord,
    ElementStates,
    job_information_file,
    night_status,
    status_files,
)
from lstflow.nightly.step_operator import (
    CALIBRATION_STEPS,
    NIGHT_STEPS,
    RUN_STEPS,
    SUBRUN_STEPS,
    NightRequest,
    NightStepOperator,
)
from lstflow.nightly.timetable import NightTimetable
from lstflow.onsite.errors import OnsiteError
from lstflow.onsite.rfmodels import NSB_LEVELS
from lstflow.onsite.settings import (
    BOOLEAN_VERSION_KEYS,
    CHOICE_LISTS,
    INPUT_STATES,
    NAME_PATTERN,
    VERSION_KEYS,
    default_rf_models,
    read_choices,
)
from lstflow.product_base.assets import models_asset
from lstflow.product_base.options import slurm_task_settings, ssh_conn_id
from lstflow.product_base.task_retries import TASK_RETRIES
from lstflow.slurm.cluster_files import ClusterFiles
from lstflow.slurm.hook import SlurmHook
from lstflow.slurm.reports import pull_report

DAG_ID = "lstflow_nightly"
RUN_GROUP = "run"
RUN_LABEL_TEMPLATE = "run {{ task.run_id }}"
FIRST_NIGHT = dt.datetime(2019, 11, 1, tzinfo=dt.UTC)  # before any night worth reprocessing

_VERSION_DOCS = {
    "prod_id": "Analysis version; names every output directory (e.g. v0.12.3).",
    "environment": "Analysis environment jobs run in: a name from the onsite config's list.",
    "dl1a_config": "lstchain config of R0→DL1a: a name from the onsite config's list.",
    "dl2_config": "lstchain config of DL1→DL2: a name from the onsite config's list.",
    "rf_models": "RF model set (MC production) of DL2: a name from the onsite config's list.",
    "calibration_version": "Version directory of the Cat-A calibration files.",
    "store_image_dl1ab": "Keep images in DL1b files.",
    "input_state": "What the night's R0 data are: legacy_raw, gain_selected or catA_calibrated.",
    "apply_catB_calibration": "Cat-B calibration per DATA run, applied by lstchain_dl1ab.",
    "use_ff_heuristic_gain_selection": "Gain selection identifies flat-field events itself.",
}


NIGHT_PARAM = "night"


def nightly_params() -> dict[str, Param]:
    """``night`` (a date picker), ``simulate`` and one optional override per analysis-version
    key (empty = config).

    The environment, configs and RF models are enums of the onsite config's reviewed names;
    the planner checks every value again (a conf can bypass the trigger form's schema).
    """
    choices, _defaults = read_choices(onsite_config())
    params = {
        NIGHT_PARAM: Param(
            None,
            type=["null", "string"],
            format="date",
            title="Night",
            description="The observation night to process (the evening's date, YYYY-MM-DD). "
            "Empty: the night of the run's logical date. Triggering from the UI while the DAG "
            "is paused: untick 'Unpause on trigger' unless this is the onsite machine, or the "
            "scheduler starts processing every following night.",
        ),
        "simulate": Param(
            False,
            type="boolean",
            description="Jobs print the command lines they would run and create no outputs.",
        ),
    }
    for key in VERSION_KEYS:
        kind = "boolean" if key in BOOLEAN_VERSION_KEYS else "string"
        schema: dict[str, Any] = {"type": ["null", kind]}
        if key in ("prod_id", "calibration_version"):
            # '(?!\n)$': a whole-string match in both Python (jsonschema) and the form's JS.
            schema["pattern"] = rf"^{NAME_PATTERN.pattern}(?!\n)$"
        if key in CHOICE_LISTS:
            schema["enum"] = [None, *choices.names(key)]
        if key == "input_state":
            schema["enum"] = [None, *INPUT_STATES]
        params[key] = Param(
            None, description=_VERSION_DOCS[key] + " Empty: the onsite config's default.", **schema
        )
    return params


def _check_conf_keys(conf: dict[str, Any] | None, allowed: set[str]) -> None:
    unknown = sorted(set(conf or {}) - allowed)
    if unknown:
        raise ValueError(
            f"DAG-run conf: unknown key {unknown[0]!r}. Fix: use only {sorted(allowed)}"
        )


def _step_jobs(ti: Any, run_ids: list[int]) -> dict[tuple[str, int | None], list[str]]:
    """The Slurm job ids each step task reported (its return value, or its failure report)."""

    def reported(task_id: str, map_index: int | None) -> list[str]:
        report = pull_report(ti, task_id, map_indexes=map_index)
        return list(report.job_ids) if report else []

    jobs: dict[tuple[str, int | None], list[str]] = {
        (step, None): reported(step, None) for step in NIGHT_STEPS
    }
    for map_index, run_id in enumerate(run_ids):
        for step in RUN_STEPS:
            jobs[(step, run_id)] = reported(f"{RUN_GROUP}.{step}", map_index)
    return jobs


def _accounting(hook: SlurmHook, job_ids: list[str]) -> tuple[ElementStates, str]:
    """Every element's sacct record, and lstosa's ``job_information.csv`` of those jobs."""
    rows = hook.accounting_rows(job_ids)
    states = {
        (element.job_id, element.index): ElementRecord(row.state, row.exit_code, row.cpu_seconds)
        for row in rows
        for element in row.elements
    }
    return states, job_information_csv(rows)


# Planning and the status only read and write files: a try lost to an infrastructure fault
# (a worker killed, SSH dropped) is retried like the steps' tries.
@task(task_id="plan_night", **TASK_RETRIES)
def plan_night_task() -> list[int]:
    """Validate the conf, plan the night and log it; returns the DATA runs to map over."""
    context = get_current_context()
    try:
        # The DAG's declared params: the context's params also hold every key the conf added.
        _check_conf_keys(context["dag_run"].conf, set(context["dag"].params))
        files = ClusterFiles(SlurmHook(ssh_conn_id()))
        plan = NightRequest.from_context(context).tasks(files).plan
    except (ValueError, OnsiteError) as error:  # a bad conf or night: no retry fixes it
        raise AirflowFailException(str(error)) from error
    print(json.dumps(plan.to_json(), indent=1))
    return [run.run_id for run in plan.data_runs]


@task(task_id="night_status", trigger_rule="all_done", **TASK_RETRIES)
def night_status_task() -> dict[str, Any]:
    """Write the sequencer table of this night and version from the jobs' real Slurm states."""
    context = get_current_context()
    hook = SlurmHook(ssh_conn_id())
    files = ClusterFiles(hook)
    tasks = NightRequest.from_context(context).tasks(files)
    ti = context["ti"]
    step_jobs = _step_jobs(ti, ti.xcom_pull(task_ids="plan_night") or [])
    job_ids = sorted({j for ids in step_jobs.values() for j in ids}, key=int)
    states, job_information = _accounting(hook, job_ids)
    document, text = night_status(
        tasks,
        step_jobs,
        states,
        calibration_steps=CALIBRATION_STEPS,
        subrun_steps=SUBRUN_STEPS,
        run_steps=tuple(RUN_STEPS),
        night_steps=tuple(NIGHT_STEPS),
    )
    json_file, text_file = status_files(tasks.paths)
    files.write(str(job_information_file(tasks.paths)), job_information)
    files.write(str(json_file), json.dumps(document, indent=1) + "\n")
    files.write(str(text_file), text)
    print(text)
    return document


def rf_model_assets() -> list[Asset]:
    """The MC productions the DL2 step takes its RF models from: one per NSB level of the
    configured ``mc_prod`` grid (``<mc_prod>nsb_tuning_X.XX``), as their train_pipe names them."""
    models = default_rf_models(onsite_config())
    if models is None:
        return []
    return [models_asset(f"{models.mc_prod}nsb_tuning_{level:.2f}") for level in NSB_LEVELS]


def build_nightly_dag(dag_id: str = DAG_ID) -> DAG:
    settings = slurm_task_settings(slurm_poll_interval(), 10 * slurm_poll_interval())
    step_kwargs: dict[str, Any] = {**settings.operator_kwargs(), **TASK_RETRIES}

    def step(name: str, **kwargs: Any) -> NightStepOperator:
        if "run_id" in kwargs:
            # The UI labels each mapped run group by its run number, not by map index 0, 1, ...
            kwargs.setdefault("map_index_template", RUN_LABEL_TEMPLATE)
        return NightStepOperator(task_id=name, step=name, **step_kwargs, **kwargs)

    with DAG(
        dag_id=dag_id,
        schedule=NightTimetable(),
        start_date=FIRST_NIGHT,
        catchup=False,
        max_active_runs=max_active_nights(),
        # Starts paused: only the onsite machine, which has the night's data, should unpause it
        # (`airflow dags unpause lstflow_nightly`); elsewhere it would fail every morning.
        is_paused_upon_creation=True,
        params=nightly_params(),
        tags=["onsite", "LST-1", "nightly"],
        deadline=night_not_closed_alert(),
        doc_md=__doc__,
        auto_register=False,
    ) as dag:

        @task_group(group_id=RUN_GROUP)
        def process_run(run_id: int) -> None:
            r0_to_dl1 = step("r0_to_dl1", run_id=run_id)
            dl1ab = step("dl1ab", run_id=run_id)
            merge_dl1 = step("merge_dl1", run_id=run_id)
            datacheck_subrun = step("datacheck_subrun", run_id=run_id)
            # Cat-B reads the run's interleaved files, the finder its DL1a: both after R0→DL1,
            # in parallel, and DL1ab waits for both (lstosa: catB_<run>.closed + finder JSON).
            catB, finder = (
                step("catB_calibration", run_id=run_id),
                step("tailcut_finder", run_id=run_id),
            )
            r0_to_dl1 >> [catB, finder] >> dl1ab
            r0_to_dl1 >> step("merge_muons", run_id=run_id)
            dl1ab >> merge_dl1 >> step("dl1_to_dl2", run_id=run_id, inlets=rf_model_assets())
            dl1ab >> datacheck_subrun >> step("datacheck_run", run_id=run_id)

        run_ids = plan_night_task()
        runs = process_run.expand(run_id=run_ids)
        gain_selection, drs4, charge = map(
            step, ("gain_selection", "drs4_baseline", "charge_calibration")
        )
        longterm, cherenkov, provenance, close = map(
            step,
            ("longterm_datacheck", "cherenkov_transparency", "provenance_merge", "night_close"),
        )
        # Gain selection's end gates everything after it (lstosa's GainSelFinished.txt).
        run_ids >> gain_selection >> drs4 >> charge >> runs
        runs >> longterm >> cherenkov >> provenance >> close
        # Runs whatever failed (all_done) and never decides the run's state (a teardown).
        [run_ids, runs, close] >> night_status_task().as_teardown()
    return dag
