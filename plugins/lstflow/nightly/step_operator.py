"""The nightly steps as Slurm array tasks, planned at run time from the night planner.

``build_array_spec`` plans the step from the onsite config, the DAG-run conf, the logical date
and the night's files, read over SSH with the task's ``ClusterFiles`` (the Airflow worker need
not see the onsite tree); ``SlurmArrayOperator`` stores that spec, so the resumption after each
deferral and every retry re-attach to the same work and jobs, even when the step's output
appeared meanwhile (a calibration step plans nothing once its file exists).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk.exceptions import AirflowSkipException

from lstflow.nightly.night_options import onsite_base, onsite_config
from lstflow.onsite.files import NightFiles, OnsiteFiles
from lstflow.onsite.plan import plan_night
from lstflow.onsite.settings import VERSION_KEYS, build_version, load_settings
from lstflow.onsite.tasks import JobMode, NightTasks
from lstflow.product_base.options import job_python
from lstflow.slurm.operator import SlurmArrayOperator
from lstflow.slurm.reports import SlurmReport
from lstflow.workitems import ArraySpec, WorkItem

StepItems = Callable[[NightTasks, int], tuple[WorkItem, ...]]


def night_of(context: Mapping[str, Any]) -> dt.date:
    """The observation night of a DAG run: its ``night`` param (the trigger form's date
    picker), else its logical date (UTC calendar date)."""
    chosen = (context.get("params") or {}).get("night")
    if chosen:
        try:
            return dt.date.fromisoformat(str(chosen))
        except ValueError:
            raise ValueError(
                f"param night={chosen!r} is not a date. Fix: YYYY-MM-DD, e.g. 2020-01-17"
            ) from None
    dag_run = context["dag_run"]
    logical_date = getattr(dag_run, "logical_date", None)
    if logical_date is None:
        raise ValueError(
            f"DAG run {dag_run.run_id!r} has no logical date, so it has no night. Fix: trigger "
            "the nightly DAG with the night as logical date, e.g. "
            "'airflow dags trigger lstflow_nightly --logical-date 2020-01-17', or set the "
            "'night' param"
        )
    return logical_date.astimezone(dt.UTC).date()


@dataclass(frozen=True)
class NightRequest:
    """What one DAG run asks for: a night, simulate or not, analysis-version overrides."""

    night: dt.date
    simulate: bool
    overrides: Mapping[str, Any]

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> NightRequest:
        params = context["params"]
        overrides = {key: params[key] for key in VERSION_KEYS if params.get(key) is not None}
        return cls(night_of(context), bool(params.get("simulate", False)), overrides)

    def tasks(self, files: OnsiteFiles) -> NightTasks:
        """The planned night; ``files`` reads the onsite tree (``ClusterFiles`` in the DAG),
        cached for this one planning."""
        settings = load_settings(onsite_config(), onsite_base())
        version = build_version(settings, self.overrides, source="DAG-run conf")
        cached = NightFiles(files)
        plan = plan_night(settings, self.night, version, cached)
        mode = JobMode(simulate=self.simulate, python=job_python())
        return NightTasks(settings, plan, cached, mode)


def _night_step(build: Callable[[NightTasks], tuple[WorkItem, ...]]) -> StepItems:
    return lambda tasks, _run: build(tasks)


def _one(build: Callable[[NightTasks, int], WorkItem]) -> StepItems:
    return lambda tasks, run: (build(tasks, run),)


# Step name → its work items. Per-run steps get the run number; the DL1b and later steps read the
# tail-cut finder's result of the run (a stand-in at dark NSB in simulate mode).
NIGHT_STEPS: dict[str, StepItems] = {
    "gain_selection": _night_step(NightTasks.gain_selection),
    "drs4_baseline": _night_step(NightTasks.drs4_baseline),
    "charge_calibration": _night_step(NightTasks.charge_calibration),
    "longterm_datacheck": _night_step(lambda t: (t.longterm_datacheck(),)),
    "cherenkov_transparency": _night_step(lambda t: (t.cherenkov_transparency(),)),
    "provenance_merge": _night_step(lambda t: (t.provenance_merge(),)),
    "night_close": _night_step(lambda t: (t.night_close(),)),
}
RUN_STEPS: dict[str, StepItems] = {
    "r0_to_dl1": NightTasks.r0_to_dl1,
    "catB_calibration": NightTasks.catB_calibration,
    "tailcut_finder": _one(NightTasks.tailcut_finder),
    "dl1ab": lambda t, run: t.dl1ab(run, t.tailcut(run)),
    "datacheck_subrun": lambda t, run: t.datacheck_subruns(run, t.tailcut(run)),
    "merge_dl1": _one(lambda t, run: t.merge_dl1(run, t.tailcut(run))),
    "merge_muons": _one(NightTasks.merge_muons),
    "dl1_to_dl2": _one(
        lambda t, run: t.dl1_to_dl2(run, t.tailcut(run), t.rf_model(run, t.tailcut(run)))
    ),
    "datacheck_run": _one(lambda t, run: t.datacheck_run(run, t.tailcut(run))),
}
# Steps whose array elements are the run's subruns (the sequencer table's subrun columns).
SUBRUN_STEPS = ("r0_to_dl1", "dl1ab", "datacheck_subrun")
CALIBRATION_STEPS = ("drs4_baseline", "charge_calibration")


class CalibrationAction(Enum):
    """What a night's calibration step does with a calibration run (see ``calibration_action``)."""

    BUILD = "build"
    WAIT = "wait"
    USE = "use"


def calibration_action(
    night: dt.date, owner: dt.date, *, to_build: bool, owner_active: bool, simulate: bool
) -> CalibrationAction:
    """Only the night that owns a calibration run (the night it was taken) builds its file.

    A later night borrowing it (the look-back) while the owner's DAG run is queued or running
    waits for the file, or in simulate mode (where no file is ever made) uses it as is: two
    nights planned at once (``max_active_runs=2``) used to build the same file twice. A borrower
    whose owner is not being processed builds it itself, as before.
    """
    if not to_build or night == owner or not owner_active:
        return CalibrationAction.BUILD
    return CalibrationAction.USE if simulate else CalibrationAction.WAIT


class NightStepOperator(SlurmArrayOperator):
    """One step of the night (``run_id`` set for per-run steps) as Slurm job arrays.

    ``run_id`` is a template field so that a mapped task group can pass its mapped argument.
    A step the night does not need (its input state, a switch of the analysis version, or an
    output that already exists) is skipped with the reason in its log; the steps after it run
    (trigger rule ``none_failed``), and fail only if something upstream failed.
    """

    template_fields = (*SlurmArrayOperator.template_fields, "run_id")

    def __init__(self, *, step: str, run_id: Any = None, **kwargs: Any) -> None:
        if step not in NIGHT_STEPS and step not in RUN_STEPS:
            raise ValueError(
                f"unknown nightly step {step!r}; use one of {[*NIGHT_STEPS, *RUN_STEPS]}"
            )
        kwargs.setdefault("trigger_rule", "none_failed")
        super().__init__(**kwargs)
        self.step = step
        self.run_id = run_id
        self._tasks: NightTasks | None = None

    def night_tasks(self, context: Any) -> NightTasks:
        """The night planned over SSH, once per ``execute`` (its listings and reads cached):
        the calibration decision, the spec and the skip reason share it."""
        if self._tasks is None:
            self._tasks = NightRequest.from_context(context).tasks(self.onsite_files())
        return self._tasks

    def onsite_files(self) -> OnsiteFiles:
        """How the planner reads the onsite tree: the cluster's files, over this task's SSH
        connection."""
        return self.cluster_files()

    def execute(self, context: Any, event: Any = None) -> Any:
        """Plan the night once for this execution (``night_tasks``), then run the step."""
        try:
            return self._execute(context)
        finally:
            self._tasks = None  # the next execution (a resumption, a retry) reads afresh

    def _execute(self, context: Any) -> Any:
        """Calibration steps first decide who builds (``calibration_action``); a waiting step
        defers for one poll interval and decides again (no worker slot meanwhile)."""
        if self.step in CALIBRATION_STEPS:
            request = NightRequest.from_context(context)
            tasks = self.night_tasks(context)
            run = tasks.plan.drs4 if self.step == "drs4_baseline" else tasks.plan.pedcal
            owner_date = dt.datetime.combine(run.night, dt.time(), dt.UTC)
            to_build = bool(NIGHT_STEPS[self.step](tasks, 0))
            # Asked only of a borrower with work to do: the owner never needs the answer.
            owner_active = (
                to_build
                and run.night != request.night
                and context["ti"].get_dr_count(
                    dag_id=context["dag"].dag_id,
                    logical_dates=[owner_date],
                    states=["queued", "running"],
                )
                > 0
            )
            action = calibration_action(
                request.night,
                run.night,
                to_build=to_build,
                owner_active=owner_active,
                simulate=request.simulate,
            )
            name = tasks.array_spec(self.step, ()).name
            if action is not CalibrationAction.BUILD:
                self.log.info(
                    "%s: calibration run %d belongs to night %s, whose DAG run builds it: %s",
                    name,
                    run.run_id,
                    run.night,
                    "waiting for its file" if action is CalibrationAction.WAIT else "using it",
                )
            if action is CalibrationAction.USE:
                return SlurmReport.nothing_to_do(name).to_json()
            if action is CalibrationAction.WAIT:
                self.defer(
                    trigger=TimeDeltaTrigger(dt.timedelta(seconds=self.poll.poll_interval)),
                    method_name="execute",
                )
        return super().execute(context)

    def build_array_spec(self, context: Any) -> ArraySpec:
        tasks = self.night_tasks(context)
        if self.step in NIGHT_STEPS:
            return tasks.array_spec(self.step, NIGHT_STEPS[self.step](tasks, 0))
        run_id = int(self.run_id)
        return tasks.array_spec(self.step, RUN_STEPS[self.step](tasks, run_id), run_id)

    def spec_ready(self, context: Any, spec: ArraySpec) -> None:
        """An empty spec is a step this night does not need: skip it, saying why."""
        if not spec.items:
            reason = self.night_tasks(context).skip_reason(self.step)
            raise AirflowSkipException(f"{spec.name} skipped: {reason or 'nothing to do'}")
