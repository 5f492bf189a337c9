"""What a dry run of one stage reports: its commands and what each overwrite policy would do.

A dry run is a safe preview: it never fails on existing outputs (that is the question it
answers) and changes nothing on the cluster. Pure, so it is unit-tested without Airflow.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from lstflow.stages.base import StagePlan

#: The return value's marker: the UI tells a dry run's result from a Slurm report by it.
DRY_RUN_KEY = "dry_run"


@dataclass(frozen=True)
class DryRunPreview:
    """One stage's dry run: elements, commands, existing outputs, missing inputs."""

    stage: str
    elements: int
    complete_elements: int
    outputs: int
    existing_outputs: int
    commands: tuple[str, ...]
    files: tuple[str, ...] = ()
    input_problems: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, plan: StagePlan, existing: Collection[str], input_problems: Sequence[str] = ()
    ) -> DryRunPreview:
        outputs = {path for item in plan.items for path in item.outputs}
        return cls(
            stage=plan.stage,
            elements=len(plan.items),
            complete_elements=sum(
                1 for item in plan.items if item.outputs and set(item.outputs) <= set(existing)
            ),
            outputs=len(outputs),
            existing_outputs=len(outputs & set(existing)),
            commands=tuple(
                shlex.join(command) for item in plan.items for command in plan.commands_of(item)
            ),
            files=tuple(path for path, _content in plan.files),
            input_problems=tuple(input_problems),
        )

    def policy_outcomes(self) -> dict[str, str]:
        """Per overwrite policy, what a real run with it would do."""
        if not self.existing_outputs:
            everything = f"submit all {self.elements} element(s) (no output exists yet)"
            return dict.fromkeys(("refuse", "skip", "overwrite"), everything)
        remaining = self.elements - self.complete_elements
        return {
            "refuse": (
                f"fail: {self.existing_outputs} of {self.outputs} output(s) already exist, "
                "nothing submitted"
            ),
            "skip": (
                f"submit {remaining} of {self.elements} element(s); "
                f"{self.complete_elements} have all their outputs"
                if remaining
                else f"submit nothing: all {self.elements} element(s) have their outputs"
            ),
            "overwrite": (
                f"rename {self.existing_outputs} existing output(s) aside, then submit all "
                f"{self.elements} element(s)"
            ),
        }

    def log_lines(self) -> list[str]:
        lines = [f"{self.stage}: DRY RUN, nothing submitted: {self.elements} element(s)"]
        lines += [
            f"{self.stage}: with overwrite={p}: {o}" for p, o in self.policy_outcomes().items()
        ]
        lines += [
            f"{self.stage}: input problem (a real run fails here unless an upstream stage of "
            f"this run makes it): {problem}"
            for problem in self.input_problems
        ]
        lines += [f"{self.stage}: would write {path}" for path in self.files]
        lines += [f"{self.stage}: command: {command}" for command in self.commands]
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            DRY_RUN_KEY: True,
            "stage": self.stage,
            "elements": self.elements,
            "complete_elements": self.complete_elements,
            "outputs": self.outputs,
            "existing_outputs": self.existing_outputs,
            "policies": self.policy_outcomes(),
            "input_problems": list(self.input_problems),
        }
