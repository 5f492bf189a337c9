"""A recording stand-in for ``SlurmHook``, for unit tests of the operators' control flow.

It records every sbatch and shell command and answers like the real cluster would for the
calls the operators make (cluster limits, job lookups by name, file snippets). The real hook
runs against the local cluster in the cluster tier; this one only proves what the operators
decide to submit, adopt and report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.hook import ClusterLimits, CommandResult, SbatchRequest
from lstflow.slurm.states import SlurmState


@dataclass
class Submitted:
    script: str
    array: str
    job_name: str
    options: tuple[tuple[str, str], ...]
    job_id: str


@dataclass
class RecordingHook:
    max_array_size: int = 1001
    next_job_id: int = 100
    submitted: list[Submitted] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    #: Jobs a "previous try" already submitted, by job name (what squeue/sacct would list).
    existing_jobs: dict[str, set[str]] = field(default_factory=dict)
    #: What element_states/job_elements answer.
    states: dict[ElementId, ElementStatus] = field(default_factory=dict)

    def cluster_limits(self) -> ClusterLimits:
        return ClusterLimits(max_array_size=self.max_array_size, min_job_age=300)

    def find_jobs(self, job_names: Sequence[str]) -> dict[str, set[str]]:
        return {name: self.existing_jobs[name] for name in job_names if name in self.existing_jobs}

    def submit(self, request: SbatchRequest) -> str:
        request.argv()  # the real hook refuses what it cannot submit
        job_id = str(self.next_job_id)
        self.next_job_id += 1
        self.submitted.append(
            Submitted(request.script_path, request.array, request.job_name, request.options, job_id)
        )
        self.existing_jobs.setdefault(request.job_name, set()).add(job_id)
        return job_id

    def run(self, command: Sequence[str] | str, *, stdin: bytes | None = None) -> CommandResult:
        text = command if isinstance(command, str) else " ".join(command)
        self.commands.append(text)
        return CommandResult(text, 0, "", "")

    def check(self, command: Sequence[str] | str, *, stdin: bytes | None = None) -> CommandResult:
        return self.run(command, stdin=stdin)

    def element_states(self, job_ids: Sequence[str]) -> dict[ElementId, ElementStatus]:
        return {e: s for e, s in self.states.items() if e.job_id in job_ids}

    def job_elements(self, job_ids: Sequence[str]) -> dict[ElementId, ElementStatus]:
        return self.element_states(job_ids)


class StateStore:
    """The task state store's ``get``/``set``/``clear``, as Airflow keeps it across tries and
    clears."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def clear(self) -> None:
        self.values.clear()


@dataclass
class TaskInstance:
    dag_id: str = "dag"
    run_id: str = "manual__1"
    task_id: str = "stage"
    map_index: int = -1
    try_number: int = 1
    max_tries: int = 0
    pushed: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def done_event(*rows: tuple[str, SlurmState, int]) -> dict[str, Any]:
    """The trigger's ``done`` event for (element id, state, exit code) rows."""
    return {
        "status": "done",
        "elements": [
            {"element": element, "state": str(state), "exit_code": code, "signal": 0}
            for element, state, code in rows
        ],
    }
