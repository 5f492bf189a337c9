"""``SlurmArrayOperator``: run a list of work items as Slurm job arrays, deferred while they run.

Life of a task:

1. ``execute`` plans the arrays (group by resources, chunk to MaxArraySize), writes one script
   per chunk, submits, stores the plan in the task state store, then defers to
   ``SlurmArrayTrigger``: the worker slot is free while Slurm works.
2. ``execute_complete`` records each element's final state; the ``RetryPolicy`` resubmits only
   failed elements (``--array=3,17``, more memory after OUT_OF_MEMORY, more time after
   TIMEOUT), then defers again, until nothing is left to retry.
3. The final report (task log and XCom) lists each failed element with state, exit code,
   command and stderr tail; the task fails if failures exceed ``allowed_failure_fraction``.

Fast path: when no element has failed so far and the task has no outlets, the trigger gets the
report the task would return; if every watched element completes, it ends the task itself
(``TaskSuccessEvent``) and no worker resumes it. The stored plan then still lists those
elements as running: a cleared task re-attaches, finds them COMPLETED and submits nothing.
Outlets need the worker: Airflow records asset events only when a worker finishes the task.

Plan once: the ``ArraySpec`` a try plans (``build_array_spec``) is stored in the task state
store before anything is submitted, and every later call (the resumption after each deferral, a
retried or cleared try) reads it back instead of planning again. So the work cannot change
under a running task, whatever appears on the filesystem meanwhile.

Exactly-once: the plan (with job ids) is stored before deferring, so a retried task re-attaches
to its jobs. The window between ``sbatch`` returning and the store write is closed by a
deterministic job name per submission (``lstflow.<dag>.<task>.<token>``) looked up in squeue and
sacct before any ``sbatch``, and by storing "round started" before the first ``sbatch``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, TaskInstanceState
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from lstflow.slurm.array_plan import (
    GENERATION_KEY,
    SPEC_KEY,
    ArrayPlan,
    Element,
    RunIdentity,
    Submission,
    plan_key,
    read_plan,
    read_spec,
    stored_value,
)
from lstflow.slurm.cluster_files import ClusterFiles
from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.hook import DEFAULT_CONN_ID, SbatchRequest, SlurmHook
from lstflow.slurm.policy import PollSettings, RetryPolicy
from lstflow.slurm.reports import FAILURE_XCOM_KEY, MAX_FAILED_ROWS, FailedElement, SlurmReport
from lstflow.slurm.states import SlurmState
from lstflow.slurm.trigger import SlurmArrayTrigger, element_statuses
from lstflow.workitems import ArraySpec

#: The payload of the trigger's ``TaskSuccessEvent``, which ``dag.test()`` resumes the task with.
ENDED_BY_TRIGGER = TaskInstanceState.SUCCESS.value


class SlurmArrayFailed(AirflowFailException):
    """More elements failed than the operator allows; the message is the failure report.

    The task fails without a task retry: each element already had its own retries
    (``RetryPolicy.max_element_retries``); task retries are for infrastructure faults.
    """


class SlurmArrayOperator(BaseOperator):
    """Run ``array_spec`` (or what ``build_array_spec`` plans at run time) on Slurm."""

    template_fields: Sequence[str] = ("ssh_conn_id",)
    ui_color = "#c6e2ff"

    def __init__(
        self,
        *,
        array_spec: ArraySpec | None = None,
        ssh_conn_id: str = DEFAULT_CONN_ID,
        retry_policy: RetryPolicy | None = None,
        poll: PollSettings | None = None,
        stderr_tail_lines: int = 20,
        **kwargs: Any,
    ) -> None:
        """
        :param array_spec: the work, or ``None`` when a subclass plans it in ``build_array_spec``.
        :param ssh_conn_id: the Slurm cluster's SSH connection.
        :param retry_policy: element retries, resource escalation and allowed failures.
        :param poll: how the shared poller asks Slurm while the task is deferred.
        :param stderr_tail_lines: lines of each failed element's stderr in the report.
        """
        super().__init__(**kwargs)
        self.array_spec = array_spec
        self.ssh_conn_id = ssh_conn_id
        self.policy = retry_policy or RetryPolicy()
        self.poll = poll or PollSettings()
        self.stderr_tail_lines = stderr_tail_lines
        self._slurm_hook: SlurmHook | None = None

    def slurm_hook(self) -> SlurmHook:
        """One hook, so one SSH connection, for everything a try does on the cluster."""
        if self._slurm_hook is None:
            self._slurm_hook = SlurmHook(self.ssh_conn_id)
        return self._slurm_hook

    def cluster_files(self) -> ClusterFiles:
        return ClusterFiles(self.slurm_hook())

    # ---- extension points ------------------------------------------------------------------

    def build_array_spec(self, context: Any) -> ArraySpec:
        """The work to run, planned once per task (see ``spec_for``); subclasses that plan at
        execution time override this."""
        if self.array_spec is None:
            raise ValueError(
                f"task {self.task_id!r}: give SlurmArrayOperator an array_spec, or subclass it "
                "and override build_array_spec(context)"
            )
        return self.array_spec

    def spec_ready(self, context: Any, spec: ArraySpec) -> None:
        """Called with the task's spec, fresh or stored, before anything else is done with it."""

    # ---- Airflow entry points --------------------------------------------------------------

    def spec_for(self, context: Any) -> ArraySpec:
        """The stored spec of this task, else a fresh ``build_array_spec`` that is stored."""
        store = context["task_state_store"]
        # Cleared since the stored spec was planned (a rerun, a backfill reprocessing the run,
        # perhaps with a new conf): plan and submit afresh; a retry keeps re-attaching.
        start_generation(context, self.log)
        stored = store.get(SPEC_KEY)
        if stored:
            spec = read_spec(stored)
        else:
            spec = self.build_array_spec(context)
            store.set(SPEC_KEY, stored_value(spec.to_json(), spec.name))
        self.spec_ready(context, spec)
        return spec

    def execute(self, context: Any) -> Any:
        spec = self.spec_for(context)
        if not spec.items:
            self.log.info("%s: nothing to do, nothing submitted", spec.name)
            return SlurmReport.nothing_to_do(spec.name).to_json()
        hook = self.slurm_hook()
        store = context["task_state_store"]
        key = plan_key(spec)
        stored = store.get(key)
        if stored:
            plan = read_plan(stored)
            self.log.info(
                "%s: re-attaching to the stored plan (round %d, jobs %s)",
                spec.name,
                plan.round,
                ", ".join(plan.job_ids) or "none",
            )
            if plan.submitting:  # a previous try died mid-round: finish that round first
                self._submit_round(hook, plan, spec, context, store, key)
            plan.start_try()
            store.set(key, stored_value(plan.to_json(), spec.name))
            self._submit_round(hook, plan, spec, context, store, key)
            ended = self._ended_meanwhile(hook, plan)
            if ended is not None:
                # Its jobs ended while no task watched them (a lineage watcher adopting jobs
                # Slurm already ran, a retry after a long outage): no deferral, no poll wait.
                self.log.info("%s: every watched element has ended; not deferring", spec.name)
                return self._absorb(plan, spec, context, ended)
            return self._defer_or_finish(plan, spec, context)
        plan = ArrayPlan.create(spec, hook.cluster_limits().max_array_size)
        self._write_scripts(plan, spec)
        self._submit_round(hook, plan, spec, context, store, key)
        return self._defer_or_finish(plan, spec, context)

    def _ended_meanwhile(self, hook: SlurmHook, plan: ArrayPlan) -> list[ElementStatus] | None:
        """The watched elements' final statuses if all ended already, else ``None``. Best
        effort: if Slurm does not answer, the trigger asks again, with its retries."""
        try:
            return _all_final(hook.job_elements(sorted(plan.watch_list())), plan)
        except Exception as error:  # an outage: deferring is always correct
            self.log.info("could not ask Slurm before deferring (%s); deferring", error)
            return None

    def execute_complete(self, context: Any, event: dict[str, Any] | str) -> Any:
        spec = self.spec_for(context)
        stored = context["task_state_store"].get(plan_key(spec))
        if not stored:
            raise AirflowException(
                f"{spec.name}: no stored Slurm plan under {plan_key(spec)!r}; cannot resume"
            )
        plan = read_plan(stored)
        return self._absorb(plan, spec, context, _event_statuses(spec, plan, event))

    def _absorb(
        self, plan: ArrayPlan, spec: ArraySpec, context: Any, statuses: list[ElementStatus]
    ) -> Any:
        """Record the watched elements' final states, resubmit what the retry policy allows,
        then wait again or finish."""
        hook = self.slurm_hook()
        store = context["task_state_store"]
        key = plan_key(spec)
        for element_id, element, why in plan.apply_results(statuses, self.policy):
            self.log.info(
                "%s: element %s (%s) ended %s (exit %s): %s",
                spec.name,
                element_id,
                spec.items[element.item].key,
                element.state,
                _exit_text(element),
                why,
            )
        store.set(key, stored_value(plan.to_json(), spec.name))
        self._submit_round(hook, plan, spec, context, store, key)
        return self._defer_or_finish(plan, spec, context)

    # ---- steps -----------------------------------------------------------------------------

    def _write_scripts(self, plan: ArrayPlan, spec: ArraySpec) -> None:
        write_array_scripts(self.cluster_files(), plan, spec)

    def _submit_round(
        self,
        hook: SlurmHook,
        plan: ArrayPlan,
        spec: ArraySpec,
        context: Any,
        store: Any,
        key: str,
    ) -> None:
        """Submit every element that needs it, adopting jobs an interrupted try already made."""
        if not any(element.needs_submission for element in plan.elements):
            return
        if not plan.submitting:
            plan.round += 1
            plan.submitting = True
            store.set(key, stored_value(plan.to_json(), spec.name))
        identity = _identity(context)
        submissions = plan.submissions(identity)
        existing = hook.find_jobs([s.job_name for s in submissions])
        for submission in submissions:
            adopted = sorted(existing.get(submission.job_name, ()), key=int)
            if adopted:
                job_id = adopted[0]
                self.log.info(
                    "%s: adopting job %s already submitted as %s",
                    spec.name,
                    job_id,
                    submission.job_name,
                )
            else:
                job_id = self._sbatch(hook, plan, spec, identity, submission)
            plan.record_submission(submission, job_id)
            store.set(key, stored_value(plan.to_json(), spec.name))
        plan.submitting = False
        store.set(key, stored_value(plan.to_json(), spec.name))

    def _sbatch(
        self,
        hook: SlurmHook,
        plan: ArrayPlan,
        spec: ArraySpec,
        identity: RunIdentity,
        submission: Submission,
    ) -> str:
        comment = (
            f"lstflow dag={identity.dag_id} run={identity.run_id} task={identity.task_id} "
            f"map={identity.map_index} try={identity.try_number} token={submission.token}"
        )
        array = submission.array_option(spec.throttle)
        job_id = hook.submit(
            SbatchRequest(
                plan.chunk_scripts[submission.chunk],
                array=array,
                options=tuple(submission.resources.sbatch_options()),
                job_name=submission.job_name,
                comment=comment,
                workdir=spec.workdir,
                output=f"{spec.log_dir}/{spec.name}_%A_%a.out",
                error=f"{spec.log_dir}/{spec.name}_%A_%a.err",
            )
        )
        options = " ".join(f"--{k}={v}" for k, v in submission.resources.sbatch_options())
        self.log.info(
            "%s: submitted job %s --array=%s %s (%d elements)",
            spec.name,
            job_id,
            array,
            options,
            len(submission.array_indices),
        )
        return job_id

    def _defer_or_finish(self, plan: ArrayPlan, spec: ArraySpec, context: Any) -> Any:
        jobs = plan.watch_list()
        if not jobs:
            return self._finish(plan, spec, context)
        may_end_in_trigger = not plan.failures() and not self.outlets
        self.defer(
            trigger=SlurmArrayTrigger(
                ssh_conn_id=self.ssh_conn_id,
                jobs=jobs,
                label=spec.name,
                total=len(plan.elements),
                done_before=plan.completed(),
                log_pattern=f"{spec.log_dir}/{spec.name}_<job>_<index>.out|.err",
                poll=self.poll,
                success_report=_report(spec, plan, []).to_json() if may_end_in_trigger else None,
            ),
            method_name="execute_complete",
        )

    def _finish(self, plan: ArrayPlan, spec: ArraySpec, context: Any) -> Any:
        failures = plan.failures()
        tails = self.cluster_files().tail(  # only the failures a report lists
            [_log_path(spec, e, "err") for e in failures[:MAX_FAILED_ROWS]],
            self.stderr_tail_lines,
        )
        failed = [_failed_element(spec, e, tails) for e in failures]
        report = _report(spec, plan, failed)
        self.log.info(
            "%s: %d/%d done, %d failed",
            spec.name,
            plan.completed(),
            len(plan.elements),
            len(failures),
        )
        for row in report.failed:  # capped: the report's rows, not every failure
            self.log.error(
                "%s: element %s (%s) %s, exit %s, attempts %d; command: %s; stderr %s:\n%s",
                spec.name,
                row.element,
                row.key,
                row.state,
                row.exit_code,
                row.attempts,
                row.command,
                row.stderr_log,
                row.stderr_tail,
            )
        if self.policy.too_many_failures(len(failures), len(plan.elements)):
            context["ti"].xcom_push(key=FAILURE_XCOM_KEY, value=report.to_json())
            raise SlurmArrayFailed(
                f"{spec.name}: {len(failures)} of {len(plan.elements)} elements failed "
                f"(allowed fraction {self.policy.allowed_failure_fraction}): " + report.summary()
            )
        return report.to_json()


def array_scripts(plan: ArrayPlan, spec: ArraySpec) -> dict[str, str]:
    """One batch script per chunk of ``plan``, by path; their directory is ``spec.log_dir``'s
    and the jobs also need ``spec.workdir``."""
    from lstflow.slurm.script import render_array_script

    return {
        path: render_array_script(spec.name, plan.chunk_items(spec, chunk), spec.prologue, spec.env)
        for chunk, path in enumerate(plan.chunk_scripts)
    }


def write_array_scripts(files: ClusterFiles, plan: ArrayPlan, spec: ArraySpec) -> None:
    """``array_scripts`` written, with the log and work directories, in two round trips."""
    files.make_dirs([spec.log_dir, spec.workdir])
    files.write_all(array_scripts(plan, spec))


def _report(spec: ArraySpec, plan: ArrayPlan, failed: list[FailedElement]) -> SlurmReport:
    """The task's result: what ran, and every element that finally failed.

    Elements neither failed nor still watched count as completed, so the report built before a
    deferral is already the final one if every watched element completes.
    """
    return SlurmReport(
        name=spec.name,
        total=len(plan.elements),
        completed=len(plan.elements) - len(failed),
        job_ids=tuple(plan.job_ids),
        failed=tuple(failed),
    )


def _all_final(
    statuses: dict[ElementId, ElementStatus], plan: ArrayPlan
) -> list[ElementStatus] | None:
    """The watched elements' statuses if every one is final with its exit code known, else
    ``None`` (then the trigger waits, with its grace period for sacct's lag)."""
    found = [statuses.get(element.element_id) for element in plan.watched() if element.element_id]
    if not found or any(s is None or not s.finished or s.needs_accounting for s in found):
        return None
    return [s for s in found if s is not None]


def _event_statuses(
    spec: ArraySpec, plan: ArrayPlan, event: dict[str, Any] | str
) -> list[ElementStatus]:
    """The final element states a trigger event carries.

    ``dag.test()`` resumes the task with the payload of the trigger's ``TaskSuccessEvent``, which
    the trigger sends only when every watched element COMPLETED.
    """
    if event == ENDED_BY_TRIGGER:
        return [
            ElementStatus(element=element_id, state=SlurmState.COMPLETED)
            for element in plan.watched()
            if (element_id := element.element_id) is not None
        ]
    if not isinstance(event, dict) or event.get("status") != "done":
        message = event.get("message", event) if isinstance(event, dict) else event
        raise AirflowException(f"{spec.name}: {message}")
    return element_statuses(event["elements"])


def task_generation(context: Any) -> int:
    """The first try number since the task instance was last cleared.

    Airflow's clear sets ``max_tries = try_number + retries`` while a retry leaves it alone, so
    ``max_tries - retries + 1`` tells a retry (same generation: re-attach to the stored plan)
    from a clear (new generation: the state store, which a clear keeps, is stale).
    """
    ti = context["ti"]
    retries = int(getattr(context.get("task"), "retries", 0) or 0)
    max_tries = getattr(ti, "max_tries", None)
    return 1 if max_tries is None else max(1, int(max_tries) - retries + 1)


def start_generation(context: Any, log: Any) -> int:
    """This try's generation; on a new one (the task instance was cleared) the task state
    store, which a clear keeps, is emptied first: its specs and plans are stale."""
    store = context["task_state_store"]
    generation = task_generation(context)
    if store.get(GENERATION_KEY, 1) != generation:
        log.info("task cleared: planning generation %d afresh", generation)
        store.clear()
        store.set(GENERATION_KEY, generation)
    return generation


def _identity(context: Any) -> RunIdentity:
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    return RunIdentity(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_index=-1 if map_index is None else int(map_index),
        try_number=int(getattr(ti, "try_number", 1) or 1),
        generation=task_generation(context),
    )


def _log_path(spec: ArraySpec, element: Element, suffix: str) -> str:
    return f"{spec.log_dir}/{spec.name}_{element.job_id}_{element.array_index}.{suffix}"


def _exit_text(element: Element) -> str:
    if element.exit_code is None:
        return "unknown"
    return f"{element.exit_code}:{element.signal or 0}"


def _failed_element(spec: ArraySpec, element: Element, tails: dict[str, str]) -> FailedElement:
    item = spec.items[element.item]
    stderr_log = _log_path(spec, element, "err")
    state = element.state or "UNKNOWN"
    if element.cancelled_by:
        state = f"{state} by {element.cancelled_by}"
    return FailedElement(
        element=f"{element.job_id}_{element.array_index}",
        key=item.key,
        state=state,
        exit_code=element.exit_code,
        signal=element.signal,
        attempts=element.attempts,
        command=shlex.join(item.argv),
        stdout_log=_log_path(spec, element, "out"),
        stderr_log=stderr_log,
        stderr_tail=tails.get(stderr_log, ""),
        note=element.note,
    )
