"""The night status view from real job states: lstosa's sequencer table, as JSON and text.

The last task of a night run collects the Slurm job ids of every step (the step tasks' reports),
asks sacct for the state of every array element, keeps each element's latest attempt, and writes
``night_status.json`` and ``night_status.txt`` into the night's running directory (next to its
provenance and logs). ``lstflow night status`` prints them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lstflow.onsite.paths import NightPaths
from lstflow.onsite.status import (
    JobHistory,
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
# (array job id, array index) → final Slurm state, as sacct reports it
ElementStates = Mapping[tuple[str, int | None], str]


def status_files(paths: NightPaths) -> tuple[Path, Path]:
    """Where the status of a night and version is written (JSON, text)."""
    return paths.running_dir / STATUS_JSON, paths.running_dir / STATUS_TEXT


def latest_states(job_ids: Sequence[str], states: ElementStates) -> list[str]:
    """Each array element's state in its latest attempt: a failed subrun resubmitted alone is
    reported by its retry, not by the first array."""
    mine = set(job_ids)
    latest: dict[int | None, tuple[int, str]] = {}
    for (job_id, index), state in states.items():
        if job_id in mine and (index not in latest or int(job_id) > latest[index][0]):
            latest[index] = (int(job_id), state)
    return [state for _, (_, state) in sorted(latest.items(), key=lambda kv: kv[0] or 0)]


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


def _history(
    steps: Iterable[str], run_id: int | None, step_jobs: StepJobs, states: ElementStates
) -> JobHistory:
    job_ids = [j for step in steps for j in step_jobs.get((step, run_id), ())]
    return JobHistory(job_ids=job_ids, element_states=latest_states(job_ids, states))


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

    Tries, job id and state of a row come from one step, as lstosa's one job per sequence: the
    R0→DL1 array of a DATA run, the charge calibration of the PEDCALIB row. Every row also lists
    each of its steps' jobs and state.
    """
    plan = tasks.plan
    pedcal = plan.pedcal.run_id
    jobs = {pedcal: _history(calibration_steps[-1:], None, step_jobs, states)}
    for run in plan.data_runs:
        jobs[run.run_id] = _history(subrun_steps[:1], run.run_id, step_jobs, states)
    progress = night_progress(plan, jobs)
    night, prod_id = plan.night.isoformat(), plan.version.prod_id
    document = status_json(night, prod_id, progress)
    for row, row_progress in zip(document["runs"], progress, strict=True):
        if row_progress.run_type == "PEDCALIB":
            row["steps"] = _steps(calibration_steps, None, step_jobs, states)
        else:
            row["steps"] = _steps(run_steps, row_progress.run_id, step_jobs, states)
    document.update(
        simulate=tasks.mode.simulate,
        written_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        night_steps=_steps(night_steps, None, step_jobs, states),
        skipped=[{"run": s.run_id, "type": s.run_type, "reason": s.reason} for s in plan.skipped],
    )
    text = status_table(night, prod_id, progress)
    night_lines = [
        f"{step}: {info['state']} (jobs {', '.join(info['job_ids']) or '-'})"
        for step, info in document["night_steps"].items()
    ]
    return document, text + "\n".join(night_lines) + "\n"
