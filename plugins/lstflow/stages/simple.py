"""Stages whose entries each become one plain command: lstmcpipe's one-job-per-entry stages.

Each planner here only says how one entry turns into an argv and its outputs; grouping the
entries into job arrays is the Slurm layer's job.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from lstflow.config.model import StageEntry
from lstflow.stages.base import (
    OptionLayers,
    PlanContext,
    StagePlan,
    entry_layers,
    stage_resources,
)
from lstflow.stages.inputs import PlannedInput
from lstflow.workitems import Resources, WorkItem

Entry = TypeVar("Entry", bound=StageEntry)
Command = tuple[tuple[str, ...], tuple[str, ...]]


def no_inputs(entry: StageEntry) -> tuple[PlannedInput, ...]:
    return ()


@dataclass(frozen=True)
class EntryStage(Generic[Entry]):
    """A stage planned entry by entry: ``command`` gives (argv, outputs) for one entry,
    ``inputs`` what it reads."""

    name: str
    defaults: Resources
    command: Callable[[Entry, PlanContext], Command]
    layers: Callable[[Entry, PlanContext], OptionLayers] = entry_layers
    inputs: Callable[[Entry], tuple[PlannedInput, ...]] = no_inputs

    def plan(self, entries: Sequence[Entry], context: PlanContext) -> StagePlan:
        items = []
        inputs: list[PlannedInput] = []
        for entry in entries:
            inputs.extend(self.inputs(entry))
            argv, outputs = self.command(entry, context)
            planned = stage_resources(context, self.defaults, self.layers(entry, context))
            items.append(
                WorkItem(
                    key=f"{self.name}[{entry.index}]",
                    argv=argv,
                    resources=planned.resources,
                    outputs=outputs,
                    description=f"{self.name} entry {entry.index}",
                    resource_sources=planned.sources,
                )
            )
        return StagePlan(
            self.name, tuple(items), context.stage_log_dir(self.name), inputs=tuple(inputs)
        )


def split_options(options: str | None) -> tuple[str, ...]:
    """lstmcpipe appends ``options`` verbatim to a shell line; here they become argv tokens."""
    return tuple(shlex.split(options)) if options else ()
