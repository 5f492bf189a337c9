"""What each stage reads, checked when the stage is planned, before anything reaches Slurm.

A merge whose input directory does not exist would otherwise be submitted, retried, and end in
lstchain's ``IndexError``; checked here, it fails at once with the path, its YAML key and what
to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lstflow.config.model import StageEntry

FILE = "file"
DIRECTORY = "directory"
MISSING = "missing"


@dataclass(frozen=True)
class PlannedInput:
    """A path a stage reads, what it must be (``file`` or ``directory``) and its YAML key."""

    path: str
    kind: str
    where: str


def entry_input(entry: StageEntry, field: str, kind: str) -> PlannedInput:
    """The input in ``field`` of ``entry``, located by its YAML key (``stages.x[2].input``)."""
    yaml_key = dict(entry.YAML_KEYS).get(field, field)
    return PlannedInput(
        getattr(entry, field), kind, f"stages.{entry.STAGE}[{entry.index}].{yaml_key}"
    )


def input_problems(inputs: Iterable[PlannedInput], kinds: Mapping[str, str]) -> list[str]:
    """One line per input that is missing or of the wrong kind; ``kinds`` maps each path to
    ``file``, ``directory`` or ``missing`` (``ClusterFiles.kinds``)."""
    problems = []
    for planned in inputs:
        found = kinds.get(planned.path, MISSING)
        if found == planned.kind:
            continue
        state = "does not exist" if found == MISSING else f"is a {found}, not a {planned.kind}"
        problems.append(f"{planned.where}: input {planned.kind} {planned.path} {state}")
    return problems


INPUT_ADVICE = (
    "Nothing was submitted. Run the stages that produce these inputs first (or include them in "
    "this run's stages), or correct the paths in the production config."
)
