"""A lineage-aware production run's tasks (docs/lineage.md): one feeder submits every stage at
the start with Slurm dependencies between elements; watchers, one per (lineage group, stage),
follow their elements and own their later attempts.

The feeder (``plan_and_submit``) plans every stage the run runs, applies the overwrite policy to
all of them before anything is submitted, and submits one job array per (stage, lineage group)
in stage order, each with ``--dependency=afterok:`` on the upstream elements it waits for and
``--kill-on-invalid-dep=yes`` (a failed upstream cancels its dependants: nothing is left pending
for ever). A declination's chain then runs at Slurm's pace, whatever the others do. Its specs
are stored before the first ``sbatch`` and job names are deterministic, so a retried feeder
adopts what it already submitted.

Each watcher adopts its (stage, group) array's plan from the feeder and is a
``SlurmArrayOperator`` from there on: it waits deferred, retries failed elements, reports. All
watchers start together once the feeder has submitted (``one_success``: the feeder is one of
their upstream tasks), so each ends from the triggerer as soon as Slurm ran its elements, and
no task start sits between two stages. The graph still shows the stage order, and a watcher
that submits by itself (elements Slurm cancelled because an upstream attempt failed, or a
lineage cleared by the user) first waits for its upstream watchers (``lineage_upstream``): it
reruns after their success, and runs nothing after their failure.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import BaseOperator, TriggerRule
from airflow.sdk.exceptions import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSkipException,
)

from lstflow.config.model import ProductionConfig
from lstflow.product_base.options import (
    array_throttle,
    lineage_nice_step,
    max_pending_jobs,
    poll_interval,
)
from lstflow.productions.dry_run import DryRunPreview
from lstflow.productions.lineage_arrays import (
    LineageArray,
    ProducedPaths,
    cut_arrays,
    dependency_option,
    group_names,
    group_nice,
    queue_has_room,
)
from lstflow.productions.lineage_generations import SpecSource, spec_source
from lstflow.productions.lineage_upstream import (
    UpstreamVerdict,
    upstream_verdict,
    upstream_watchers,
)
from lstflow.productions.stage_operator import load_for_run
from lstflow.productions.stage_planning import (
    RunConfigRecord,
    apply_overwrite_policy,
    plan_for_run,
    publish_lstchain_config,
    records_dir,
    run_record,
)
from lstflow.run_label import run_label
from lstflow.slurm.array_plan import ArrayPlan, RunIdentity, plan_key, read_plan, stored_value
from lstflow.slurm.cluster_files import ClusterFiles
from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.hook import SbatchRequest, SlurmHook
from lstflow.slurm.operator import (
    SlurmArrayOperator,
    array_scripts,
    start_generation,
    task_generation,
)
from lstflow.slurm.states import SlurmState
from lstflow.stages.base import StagePlan
from lstflow.stages.element_graph import element_graph
from lstflow.stages.inputs import INPUT_ADVICE, input_problems
from lstflow.stages.lineage import build_lineage
from lstflow.stages.registry import stages_to_run, stages_with_implicit
from lstflow.workitems import ArraySpec

FEEDER_TASK_ID = "plan_and_submit"
#: The mapped task group of the watchers: its tasks are ``lineage.<stage>``.
LINEAGE_GROUP_ID = "lineage"
#: The feeder's XCom (and state-store key) with every array and its submitted plan.
ARRAYS_KEY = "lstflow.lineage.arrays"
#: The feeder's state-store key of the arrays it planned, stored before the first sbatch.
PLANNED_KEY = "lstflow.lineage.planned"
#: Set once the feeder wrote every array's job scripts (a wait for room does not rewrite them).
SCRIPTS_WRITTEN_KEY = "lstflow.lineage.scripts_written"
#: A watcher's state-store key of its ``SpecSource``: adopt the feeder's jobs or submit its own.
SOURCE_KEY = "lstflow.lineage.source"
T = TypeVar("T")


class LineageFeederOperator(BaseOperator):
    """Plan every stage of the run, submit them all with dependencies; return the groups."""

    template_fields: Sequence[str] = ("ssh_conn_id",)
    ui_color = "#ffe4b5"

    def __init__(self, *, config_paths: Mapping[str, str], ssh_conn_id: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.config_paths = dict(config_paths)
        self.ssh_conn_id = ssh_conn_id

    def execute(self, context: Any) -> list[str]:
        params = context["params"]
        chosen = load_for_run(self.config_paths, params)
        production = chosen.production
        wanted = set(stages_with_implicit(params["stages"]))
        stages = [stage for stage in stages_to_run(production) if stage in wanted]
        hook = SlurmHook(self.ssh_conn_id)
        files = ClusterFiles(hook)
        label = run_label(context["run_id"])
        if params["dry_run"]:
            self._dry_run(production, stages, files, label)
            return []
        store = context["task_state_store"]
        # A cleared feeder plans and submits the whole run afresh (new job names); a retry
        # re-attaches to what it planned.
        start_generation(context, self.log)
        stored = store.get(PLANNED_KEY)
        if stored:
            arrays = _stored_arrays(stored)
            self.log.info("re-attaching to the %d arrays planned by an earlier try", len(arrays))
        else:
            record = RunConfigRecord(chosen.label, str(production.path))
            arrays = self._plan(production, stages, files, label, params["overwrite"], record)
            store.set(PLANNED_KEY, {"arrays": [array.to_json() for array in arrays]})
        return self._submit_or_wait(context, hook, files, arrays, adopt=bool(stored))

    def resume_submitting(self, context: Any, event: Any = None) -> list[str]:
        """Back from waiting for room in the queue: submit what fits now."""
        hook = SlurmHook(self.ssh_conn_id)
        arrays = _stored_arrays(context["task_state_store"].get(PLANNED_KEY))
        return self._submit_or_wait(context, hook, ClusterFiles(hook), arrays, adopt=True)

    def _submit_or_wait(
        self,
        context: Any,
        hook: SlurmHook,
        files: ClusterFiles,
        arrays: Sequence[LineageArray],
        *,
        adopt: bool,
    ) -> list[str]:
        """Submit the arrays that fit under ``max_pending_jobs``; wait (deferred, no worker
        held) while the rest do not; once all are submitted, publish them to the watchers.
        ``adopt``: an earlier try or cycle of this generation may have submitted some."""
        plans = self._submit(context, hook, files, arrays, adopt=adopt)
        if len(plans) < len(arrays):
            self.defer(
                trigger=TimeDeltaTrigger(timedelta(seconds=poll_interval())),
                method_name="resume_submitting",
            )
        submitted = {
            "generation": task_generation(context),
            "arrays": [
                {"array": array.to_json(), "plan": plan.to_json()}
                for array, plan in zip(arrays, plans, strict=True)
            ],
        }
        context["ti"].xcom_push(key=ARRAYS_KEY, value=submitted)
        return group_names(arrays)

    def _plans(
        self, production: ProductionConfig, stages: Sequence[str], files: ClusterFiles, label: str
    ) -> dict[str, StagePlan]:
        config = publish_lstchain_config(production, files)
        return {
            stage: plan_for_run(production, stage, files, label, lstchain_config=config)
            for stage in stages
        }

    def _dry_run(
        self, production: ProductionConfig, stages: Sequence[str], files: ClusterFiles, label: str
    ) -> None:
        """Plan every stage and log what a real run would submit; write nothing."""
        plans = {
            stage: plan_for_run(production, stage, files, label, publish=False) for stage in stages
        }
        problems = _external_input_problems(plans, files)
        for plan in plans.values():
            existing = files.existing(path for item in plan.items for path in item.outputs)
            mine = [line for line in problems if line.startswith(f"stages.{plan.stage}[")]
            for line in DryRunPreview.of(plan, existing, mine).log_lines():
                self.log.info("%s", line)

    def _plan(
        self,
        production: ProductionConfig,
        stages: Sequence[str],
        files: ClusterFiles,
        label: str,
        overwrite: str,
        record: RunConfigRecord,
    ) -> list[LineageArray]:
        """Every stage planned, inputs checked and the overwrite policy applied to all of them
        before anything is written or submitted; the cluster is asked once per kind of question
        (which inputs and outputs exist, make directories, write files), not once per stage."""
        plans = self._plans(production, stages, files, label)
        problems = _external_input_problems(plans, files)
        if problems:
            raise AirflowFailException(
                f"{production.path}:\n" + "\n".join(problems) + f"\n{INPUT_ADVICE}"
            )
        existing = files.existing(
            path for plan in plans.values() for item in plan.items for path in item.outputs
        )
        to_run = {
            stage: apply_overwrite_policy(
                stage, files, plan.items, overwrite, label, self.log, existing
            )
            for stage, plan in plans.items()
        }
        nodes = element_graph(build_lineage(production), plans)
        templates = {
            stage: ArraySpec(
                name=stage,
                items=items,
                log_dir=plans[stage].log_dir,
                workdir=plans[stage].log_dir,
                prologue=production.source_environment.prologue(),
                throttle=array_throttle(),
            )
            for stage, items in to_run.items()
        }
        contents = dict(path_content for plan in plans.values() for path_content in plan.files)
        contents.update(
            run_record(stage, spec, records_dir(spec.log_dir, label), record)
            for stage, spec in templates.items()
        )
        files.write_all(contents)
        # lstchain tools do not create their output's directory: make them as the job user.
        outputs = {path for items in to_run.values() for item in items for path in item.outputs}
        files.make_dirs(
            sorted({posixpath.dirname(path) for path in outputs if "/" in path})
            + sorted({d for spec in templates.values() for d in (spec.log_dir, spec.workdir)})
        )
        return cut_arrays(to_run, nodes, templates)

    def _submit(
        self,
        context: Any,
        hook: SlurmHook,
        files: ClusterFiles,
        arrays: Sequence[LineageArray],
        *,
        adopt: bool,
    ) -> list[ArrayPlan]:
        """Submit every array once, upstream first, adopting jobs an earlier try submitted;
        stop before the first array the queue has no room for (``max_pending_jobs``): its
        dependants come later anyway. Returns the plans of the arrays submitted so far.

        Freshly planned arrays skip the job-name lookup: their plan is stored before the first
        ``sbatch``, so without a stored plan nothing of this generation was submitted."""
        ti = context["ti"]
        groups = group_names(arrays)
        max_size = hook.cluster_limits().max_array_size
        plans = []
        for array in arrays:
            plan = ArrayPlan.create(array.spec, max_size)
            plan.round = 1
            plans.append(plan)
        store = context["task_state_store"]
        if not store.get(SCRIPTS_WRITTEN_KEY):  # once per generation, not per wait for room
            scripts: dict[str, str] = {}
            for array, plan in zip(arrays, plans, strict=True):
                scripts.update(array_scripts(plan, array.spec))
            files.write_all(scripts)  # their directory, the stage's log dir, exists (``_plan``)
            store.set(SCRIPTS_WRITTEN_KEY, True)
        identities = [
            RunIdentity(
                ti.dag_id,
                ti.run_id,
                array.stage,
                groups.index(array.group),
                ti.try_number,
                generation=task_generation(context),
            )
            for array in arrays
        ]
        submissions = [plan.submissions(who) for plan, who in zip(plans, identities, strict=True)]
        names = [s.job_name for batch in submissions for s in batch]
        existing = hook.find_jobs(names) if adopt else {}
        nice = group_nice(arrays, lineage_nice_step())
        cap = max_pending_jobs()
        pending = hook.pending_jobs() if cap else 0
        located: dict[str, ElementId] = {}
        job_sizes: dict[str, int] = {}
        for count, (array, plan, who, batch) in enumerate(
            zip(arrays, plans, identities, submissions, strict=True)
        ):
            size = sum(len(s.array_indices) for s in batch if s.job_name not in existing)
            if size and not queue_has_room(pending, size, cap):
                self.log.info(
                    "the queue holds %d pending job(s), [lstflow] max_pending_jobs is %d: "
                    "%s [%s] (%d element(s)) and %d later array(s) wait for room",
                    pending,
                    cap,
                    array.stage,
                    array.group,
                    size,
                    len(arrays) - count - 1,
                )
                return plans[:count]
            pending += size
            dependency = dependency_option(array.upstream, located, job_sizes)
            for submission in batch:
                adopted = sorted(existing.get(submission.job_name, ()), key=int)
                if adopted:
                    job_id = adopted[0]
                    self.log.info("%s: adopting job %s (%s)", array.stage, job_id, array.group)
                else:
                    job_id = _sbatch(
                        hook, plan, array, who, submission, dependency, nice[array.group]
                    )
                    self.log.info(
                        "%s [%s]: submitted job %s --array=%s, %s",
                        array.stage,
                        array.group,
                        job_id,
                        submission.array_option(array.spec.throttle),
                        dependency or "no dependency",
                    )
                plan.record_submission(submission, job_id)
                job_sizes[job_id] = len(submission.array_indices)
            for element in plan.elements:
                assert element.job_id is not None
                located[array.spec.items[element.item].key] = ElementId(
                    element.job_id, element.array_index
                )
        return plans


def _stored_arrays(stored: Mapping[str, Any]) -> list[LineageArray]:
    return [LineageArray.from_json(raw) for raw in stored["arrays"]]


def _external_input_problems(plans: Mapping[str, StagePlan], files: ClusterFiles) -> list[str]:
    """Missing inputs of the plans that no planned item of the run produces."""
    produced = ProducedPaths(
        path for plan in plans.values() for item in plan.items for path in item.outputs
    )
    inputs = [planned for plan in plans.values() for planned in plan.inputs]
    external = [planned for planned in inputs if not produced.produces(planned.path)]
    return input_problems(external, files.kinds(p.path for p in external))


def _sbatch(
    hook: SlurmHook,
    plan: ArrayPlan,
    array: LineageArray,
    who: RunIdentity,
    submission: Any,
    dependency: str | None,
    nice: int,
) -> str:
    spec = array.spec
    options = list(submission.resources.sbatch_options())
    if nice:
        options.append(("nice", str(nice)))
    if dependency:
        options += [("dependency", dependency), ("kill-on-invalid-dep", "yes")]
    return hook.submit(
        SbatchRequest(
            plan.chunk_scripts[submission.chunk],
            array=submission.array_option(spec.throttle),
            options=tuple(options),
            job_name=submission.job_name,
            comment=(
                f"lstflow dag={who.dag_id} run={who.run_id} task={FEEDER_TASK_ID} "
                f"stage={array.stage} map={who.map_index} token={submission.token}"
            ),
            workdir=spec.workdir,
            output=f"{spec.log_dir}/{spec.name}_%A_%a.out",
            error=f"{spec.log_dir}/{spec.name}_%A_%a.err",
        )
    )


class LineageStageOperator(SlurmArrayOperator):
    """One stage of one lineage group: adopts the feeder's jobs, then watches and retries.

    Each feeder generation is adopted once. A watcher cleared on its own (one lineage's rerun,
    its map index with downstream) submits its elements itself, under the run's overwrite
    policy and without Slurm dependencies, once the same group's upstream watchers, cleared
    with it, succeeded.
    """

    template_fields: Sequence[str] = ("ssh_conn_id", "lineage_group")

    def __init__(self, *, stage: str, lineage_group: Any, **kwargs: Any) -> None:
        # The feeder is among every watcher's upstream tasks (they read its groups): starting on
        # its success alone lets a group's watchers wait together while Slurm runs the chain.
        kwargs.setdefault("trigger_rule", TriggerRule.ONE_SUCCESS)
        kwargs.setdefault("map_index_template", "{{ task.lineage_group }}")
        super().__init__(**kwargs)
        self.stage = stage
        self.lineage_group = lineage_group
        self._per_try: dict[tuple[object, ...], object] = {}

    def _once_per_try(self, context: Any, what: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per task try: this ``execute`` and the parent's both ask for the
        spec and the feeder's arrays, and each ask costs several Execution API round trips on
        the chain's critical path."""
        ti = context["ti"]
        key = (what, ti.run_id, getattr(ti, "map_index", -1), ti.try_number)
        if key not in self._per_try:
            self._per_try[key] = compute()
        return cast(T, self._per_try[key])

    def _feeder_output(self, context: Any) -> FeederOutput:
        return self._once_per_try(
            context,
            "feeder",
            lambda: FeederOutput.from_xcom(
                context["ti"].xcom_pull(task_ids=FEEDER_TASK_ID, key=ARRAYS_KEY)
            ),
        )

    def _feeder_arrays(self, context: Any) -> tuple[int, tuple[LineageArray, ArrayPlan] | None]:
        """The feeder's generation, and its array and plan of this stage and group (none:
        nothing to watch)."""
        output = self._feeder_output(context)
        return self._once_per_try(
            context,
            "mine",
            lambda: (output.generation, output.find(self.stage, self.lineage_group)),
        )

    def _upstream_verdict(self, context: Any) -> UpstreamVerdict:
        """How the watchers owning this array's upstream elements stand, asked now."""
        output = self._feeder_output(context)
        _, mine = self._feeder_arrays(context)
        watchers = () if mine is None else upstream_watchers(output.arrays, mine[0])
        if not watchers:
            return upstream_verdict((), {})
        ti = context["ti"]
        task_ids = sorted({f"{LINEAGE_GROUP_ID}.{watcher.stage}" for watcher in watchers})
        found = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=task_ids)
        states = found.get(ti.run_id, {})
        return upstream_verdict(
            watchers,
            {
                watcher: states.get(watcher.state_key(f"{LINEAGE_GROUP_ID}.{watcher.stage}"))
                for watcher in watchers
            },
        )

    def _wait_for(self, verdict: UpstreamVerdict, what: str) -> None:
        """Reschedule (no worker held) while an upstream watcher has not ended. Not a deferral:
        ``dag.test()`` runs one task at a time and would wait inside this one for ever."""
        if verdict.waiting:
            self.log.info(
                "%s [%s]: %s after %s; waiting for it to end",
                self.stage,
                self.lineage_group,
                what,
                ", ".join(verdict.waiting),
            )
            raise AirflowRescheduleException(
                datetime.now(tz=UTC) + timedelta(seconds=poll_interval())
            )

    def spec_for(self, context: Any) -> ArraySpec:
        """The parent's, with the last ``SpecSource`` kept across a clear of this watcher."""
        return self._once_per_try(context, "spec", lambda: self._load_spec(context))

    def _load_spec(self, context: Any) -> ArraySpec:
        store = context["task_state_store"]
        previous = store.get(SOURCE_KEY)
        start_generation(context, self.log)
        if previous is not None and store.get(SOURCE_KEY) is None:  # just cleared
            store.set(SOURCE_KEY, previous)
        return super().spec_for(context)

    def build_array_spec(self, context: Any) -> ArraySpec:
        params = context["params"]
        if self.stage not in stages_with_implicit(params["stages"]):
            raise AirflowSkipException(f"{self.stage} is not among this run's stages")
        store = context["task_state_store"]
        feeder_generation, submitted = self._feeder_arrays(context)
        previous = store.get(SOURCE_KEY)
        source = spec_source(
            task_generation(context),
            feeder_generation,
            None if previous is None else SpecSource.from_json(previous),
        )
        store.set(SOURCE_KEY, source.to_json())
        if submitted is None:
            return ArraySpec(name=self.stage, items=(), log_dir="", workdir="")
        spec = submitted[0].spec
        if source.adopt:
            return spec
        verdict = self._upstream_verdict(context)
        self._wait_for(verdict, "cleared on its own, it submits its elements anew")
        if verdict.failed:
            raise AirflowFailException(
                f"{self.stage} [{self.lineage_group}]: not run, its upstream did not succeed: "
                + ", ".join(verdict.failed)
            )
        self.log.info(
            "%s [%s]: cleared on its own: submitting its %d element(s) anew",
            self.stage,
            self.lineage_group,
            len(spec.items),
        )
        items = apply_overwrite_policy(
            self.stage,
            self.cluster_files(),
            spec.items,
            params["overwrite"],
            run_label(context["run_id"]),
            self.log,
        )
        return replace(spec, items=items)

    def execute(self, context: Any) -> Any:
        """Adopt the feeder's plan once per adopting generation; every try after that
        re-attaches to its own."""
        spec = self.spec_for(context)
        store = context["task_state_store"]
        source = store.get(SOURCE_KEY)
        adopt = source is not None and SpecSource.from_json(source).adopt
        if spec.items and adopt and not store.get(plan_key(spec)):
            _, submitted = self._feeder_arrays(context)
            if submitted is None:
                raise AirflowFailException(f"{self.stage}: the feeder's plan is gone")
            # The parent's re-attach starts a new try (task_try 2): elements Slurm cancelled
            # because an upstream attempt failed are then rerun, once that upstream succeeded.
            store.set(plan_key(spec), stored_value(submitted[1].to_json(), spec.name))
        return super().execute(context)

    def _absorb(
        self, plan: ArrayPlan, spec: ArraySpec, context: Any, statuses: list[ElementStatus]
    ) -> Any:
        """The parent's, except for elements Slurm cancelled before this try (their upstream
        attempt failed): rerun once the upstream watchers succeeded, not run if one failed,
        and wait for them meanwhile (nothing recorded, so the next try decides again)."""
        cancelled = {s.element for s in statuses if s.state is SlurmState.CANCELLED}
        earlier = [
            element
            for element in plan.watched()
            if element.element_id in cancelled and element.submitted_in_try < plan.task_try
        ]
        if earlier:
            verdict = self._upstream_verdict(context)
            self._wait_for(verdict, f"{len(earlier)} element(s) cancelled by Slurm")
            if verdict.failed:
                why = "not run: its upstream did not succeed: " + ", ".join(verdict.failed)
                plan.give_up(earlier, SlurmState.CANCELLED, why)
        return super()._absorb(plan, spec, context, statuses)


@dataclass(frozen=True)
class FeederOutput:
    """What the feeder published for its watchers (its ``ARRAYS_KEY`` XCom)."""

    generation: int
    arrays: tuple[LineageArray, ...]
    plans: tuple[dict[str, Any], ...]

    @classmethod
    def from_xcom(cls, found: Mapping[str, Any] | None) -> FeederOutput:
        rows = (found or {}).get("arrays", ())
        return cls(
            generation=int((found or {}).get("generation", 1)),
            arrays=tuple(LineageArray.from_json(row["array"]) for row in rows),
            plans=tuple(row["plan"] for row in rows),
        )

    def find(self, stage: str, group: str) -> tuple[LineageArray, ArrayPlan] | None:
        """The array of (``stage``, ``group``) and its submitted plan, if it has one."""
        for array, plan in zip(self.arrays, self.plans, strict=True):
            if array.stage == stage and array.group == group:
                return array, read_plan(plan)
        return None
