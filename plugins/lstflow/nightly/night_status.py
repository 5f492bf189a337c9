"""The night status view from real job states: lstosa's sequencer table, as JSON and text.

The last task of a night run collects the Slurm job ids of every step (the step tasks' reports),
asks sacct for the state of every array element, keeps each element's latest attempt, and writes
``night_status.json`` and ``night_status.txt`` into the night's running directory (next to its
provenance and logs). ``lstflow night status`` prints them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstflow.onsite.paths import NightPaths
from lstflow.onsite.status import (
    Accounting,
    JobHistory,
    OutputCounts,
    aggregate_state,
    night_progress,
    status_json,
    status_table,
)
from lstflow.onsite.tasks import NightTasks

STATUS_JSON = "night_status.json"
STATUS_TEXT = "night_status.txt"

# (step, run number or None for night-level steps) → Slurm array job ids of that step, oldest first
StepJobs = Mapping[tuple[str, int | None], Sequence[str]]
JOB_INFORMATION = "job_information.csv"
# Which step's completed elements stand for a product in simulate mode (no files are written).
SIMULATED_PRODUCT_STEPS = {
    "dl1": "r0_to_dl1",
    "muons": "r0_to_dl1",
    "dl1ab": "dl1ab",
    "datacheck": "datacheck_subrun",
    "dl2": "dl1_to_dl2",
}


@dataclass(frozen=True)
class ElementRecord:
    """sacct's word on one array element: state, exit code (``0:0``) and CPU seconds."""

    state: str
    exit_code: str = ""
    cpu_seconds: int = 0


# (array job id, array index) → the element's sacct record
ElementStates = Mapping[tuple[str, int | None], ElementRecord]


def status_files(paths: NightPaths) -> tuple[Path, Path]:
    """Where the status of a night and version is written (JSON, text)."""
    return paths.running_dir / STATUS_JSON, paths.running_dir / STATUS_TEXT


def job_information_file(paths: NightPaths) -> Path:
    """lstosa's ``log/job_information.csv``: the sacct accounting of the night's jobs."""
    return paths.log_dir / JOB_INFORMATION


def latest_records(job_ids: Sequence[str], states: ElementStates) -> list[ElementRecord]:
    """Each array element's record in its latest attempt: a failed subrun resubmitted alone is
    reported by its retry, not by the first array."""
    mine = set(job_ids)
    latest: dict[int | None, tuple[int, ElementRecord]] = {}
    for (job_id, index), record in states.items():
        if job_id in mine and (index not in latest or int(job_id) > latest[index][0]):
            latest[index] = (int(job_id), record)
    return [record for _, (_, record) in sorted(latest.items(), key=lambda kv: kv[0] or 0)]


def latest_states(job_ids: Sequence[str], states: ElementStates) -> list[str]:
    return [record.state for record in latest_records(job_ids, states)]


def _steps(
    steps: Iterable[str], run_id: int | None, step_jobs: StepJobs, states: ElementStates
) -> dict[str, dict[str, Any]]:
    result = {}
    for step in steps:
        job_ids = list(step_jobs.get((step, run_id), ()))
        result[step] = {
            "job_ids": job_ids,
            "state": aggregate_state(latest_states(job_ids, states)),
        }
    return result


def _exit_code(records: Sequence[ElementRecord]) -> str | None:
    """``0:0`` when every element exited 0, else the first other exit code (lstosa's Exit)."""
    codes = [r.exit_code for r in records if r.exit_code]
    return next((code for code in codes if code != "0:0"), codes[0] if codes else None)


def _completed(step: str, run_id: int, step_jobs: StepJobs, states: ElementStates) -> int:
    records = latest_records(list(step_jobs.get((step, run_id), ())), states)
    return sum(1 for r in records if r.state == "COMPLETED")


def _history(
    tasks: NightTasks,
    main_step: str,
    steps: Sequence[str],
    run_id: int | None,
    step_jobs: StepJobs,
    states: ElementStates,
) -> JobHistory:
    """Tries, job id, state and exit of a row come from its main step (lstosa's one job per
    sequence); its CPU time sums every step of the row."""
    main_jobs = list(step_jobs.get((main_step, run_id), ()))
    main = latest_records(main_jobs, states)
    every = [r for step in steps for r in latest_records(step_jobs.get((step, run_id), ()), states)]
    accounting = Accounting(
        cpu_seconds=sum(r.cpu_seconds for r in every) if every else None,
        exit_code=_exit_code(main),
    )
    if run_id is None or run_id == tasks.plan.pedcal.run_id:
        return JobHistory(main_jobs, [r.state for r in main], accounting)
    catb = None
    if "catB_calibration" in steps and tasks.skip_reason("catB_calibration") is None:
        catb = aggregate_state(
            latest_states(step_jobs.get(("catB_calibration", run_id), ()), states)
        )
    simulated = None
    if tasks.mode.simulate:
        simulated = OutputCounts(
            **{
                product: _completed(step, run_id, step_jobs, states)
                for product, step in SIMULATED_PRODUCT_STEPS.items()
            }
        )
    return JobHistory(main_jobs, [r.state for r in main], accounting, catb, simulated)


def night_status(
    tasks: NightTasks,
    step_jobs: StepJobs,
    states: ElementStates,
    *,
    calibration_steps: Sequence[str],
    subrun_steps: Sequence[str],
    run_steps: Sequence[str],
    night_steps: Sequence[str],
) -> tuple[dict[str, Any], str]:
    """The JSON document and the text table of a night.

    Every row also lists each of its steps' jobs and state. A simulated night is marked in both:
    its percentages count completed jobs, as it writes no products.
    """
    plan = tasks.plan
    pedcal = plan.pedcal.run_id
    jobs = {
        pedcal: _history(tasks, calibration_steps[-1], calibration_steps, None, step_jobs, states)
    }
    for run in plan.data_runs:
        jobs[run.run_id] = _history(
            tasks, subrun_steps[0], run_steps, run.run_id, step_jobs, states
        )
    steps_of_night = _steps(night_steps, None, step_jobs, states)
    closed = steps_of_night.get("night_close", {}).get("state") == "COMPLETED"
    progress = night_progress(plan, jobs, tasks.files, closed)
    night, prod_id = plan.night.isoformat(), plan.version.prod_id
    simulate = tasks.mode.simulate
    document = status_json(night, prod_id, progress, simulate)
    for row, row_progress in zip(document["runs"], progress, strict=True):
        if row_progress.run_type == "PEDCALIB":
            row["steps"] = _steps(calibration_steps, None, step_jobs, states)
        else:
            row["steps"] = _steps(run_steps, row_progress.run_id, step_jobs, states)
    document.update(
        input_state=plan.input_state,
        written_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        night_steps=steps_of_night,
        skipped=[{"run": s.run_id, "type": s.run_type, "reason": s.reason} for s in plan.skipped],
    )
    text = status_table(night, prod_id, progress, simulate)
    night_lines = [
        f"{step}: {info['state']} (jobs {', '.join(info['job_ids']) or '-'})"
        for step, info in document["night_steps"].items()
    ]
    return document, text + "\n".join(night_lines) + "\n"
