"""Plan every step of a simulate night through ``NightStepOperator``, as the DAG's tasks do.

The cluster tier plans the same night twice: from local files in the test process, and with
``python -m support.night_planning`` in a process that does not see the onsite tree (a mount
namespace hides it), so every read goes over SSH through ``ClusterFiles``. That run counts the
SSH round trips of each planning.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lstflow.nightly.step_operator import NIGHT_STEPS, RUN_STEPS, NightStepOperator
from lstflow.onsite.settings import VERSION_KEYS
from lstflow.slurm.hook import SlurmHook
from lstflow.slurm.slurm_argv import CommandResult

Prepare = Callable[[NightStepOperator], None]


def simulate_context(night: dt.date) -> dict[str, Any]:
    """A nightly DAG run's context as the planner reads it: the night and the params."""
    logical_date = dt.datetime.combine(night, dt.time(), dt.UTC)
    return {
        "dag_run": SimpleNamespace(run_id=f"manual__{night}", logical_date=logical_date),
        "params": {"night": None, "simulate": True, **dict.fromkeys(VERSION_KEYS)},
    }


def planned_night(night: dt.date, prepare: Prepare) -> dict[str, Any]:
    """The night's plan and every step's ArraySpec (per run for run steps), each planned by a
    fresh operator (one planning call each) that ``prepare`` sets up first."""
    context = simulate_context(night)
    planner = NightStepOperator(task_id="plan_night", step="night_close")
    prepare(planner)
    plan = planner.night_tasks(context).plan
    operators = [NightStepOperator(task_id=step, step=step) for step in NIGHT_STEPS]
    operators += [
        NightStepOperator(task_id=f"{step}.{run.run_id}", step=step, run_id=run.run_id)
        for run in plan.data_runs
        for step in RUN_STEPS
    ]
    specs = {}
    for operator in operators:
        prepare(operator)
        specs[operator.task_id] = operator.build_array_spec(context).to_json()
    return {"plan": plan.to_json(), "specs": specs}


class CountingHook(SlurmHook):
    """The real hook, recording its SSH commands (every ``ClusterFiles`` call is one)."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[str] = []

    def run(self, command: Sequence[str] | str, *, stdin: bytes | None = None) -> CommandResult:
        self.commands.append(command if isinstance(command, str) else " ".join(command))
        return super().run(command, stdin=stdin)


def main(night: str, hidden_base: str, result_file: str) -> None:
    """Plan ``night`` over SSH; write the plan, the specs and the round trips per planning."""
    if Path(hidden_base).exists() and any(Path(hidden_base).iterdir()):
        raise SystemExit(f"{hidden_base} is visible to this process: it must read over SSH")
    hook = CountingHook()
    marks: list[int] = []

    def prepare(operator: NightStepOperator) -> None:
        marks.append(len(hook.commands))
        operator._slurm_hook = hook

    result = planned_night(dt.date.fromisoformat(night), prepare)
    marks.append(len(hook.commands))
    result["round_trips"] = [b - a for a, b in itertools.pairwise(marks)]
    result["commands"] = hook.commands
    Path(result_file).write_text(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
