"""dl1_to_dl2: ``lstchain_dl1_to_dl2 -f IN [-f IN ...] -p MODELS -o OUT -c CONF``.

Entries that share their models, output directory and Slurm options are run together, up to
``FILES_PER_ELEMENT`` files per command, to pay lstchain's start-up once per element instead of
once per file. lstchain silently processes only the first of space-separated inputs, so every
input file gets its own ``-f``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from lstflow.config.model import Dl1ToDl2Entry
from lstflow.stages.base import PlanContext, StagePlan, entry_layers, stage_resources
from lstflow.stages.inputs import DIRECTORY, FILE, entry_input
from lstflow.workitems import Resources, WorkItem

FILES_PER_ELEMENT = 10


def dl2_name(dl1_path: str) -> str:
    """lstchain names the output after the input with its first ``dl1`` turned into ``dl2``."""
    return posixpath.basename(dl1_path).replace("dl1", "dl2", 1)


def dl2_argv(inputs: Sequence[str], path_model: str, output: str, config: str) -> tuple[str, ...]:
    argv: tuple[str, ...] = ("lstchain_dl1_to_dl2",)
    for path in inputs:
        argv += ("-f", path)
    return (*argv, "-p", path_model, "-o", output, "-c", config)


@dataclass(frozen=True)
class Dl1ToDl2Stage:
    name: str
    defaults: Resources
    files_per_element: int = FILES_PER_ELEMENT

    def plan(self, entries: Sequence[Dl1ToDl2Entry], context: PlanContext) -> StagePlan:
        groups: dict[tuple[object, ...], list[Dl1ToDl2Entry]] = {}
        for entry in entries:
            key = (entry.path_model, entry.output, entry_layers(entry, context))
            groups.setdefault(key, []).append(entry)
        items = []
        for group in groups.values():
            for start in range(0, len(group), self.files_per_element):
                chunk = group[start : start + self.files_per_element]
                first = chunk[0]
                inputs = [entry.input for entry in chunk]
                indices = ",".join(str(entry.index) for entry in chunk)
                planned = stage_resources(context, self.defaults, entry_layers(first, context))
                items.append(
                    WorkItem(
                        key=f"{self.name}[{indices}]",
                        argv=dl2_argv(
                            inputs, first.path_model, first.output, context.lstchain_config
                        ),
                        resources=planned.resources,
                        outputs=tuple(posixpath.join(first.output, dl2_name(p)) for p in inputs),
                        description=f"{len(chunk)} DL1 files with models {first.path_model}",
                        resource_sources=planned.sources,
                    )
                )
        planned_inputs = tuple(
            planned
            for entry in entries
            for planned in (
                entry_input(entry, "input", FILE),
                entry_input(entry, "path_model", DIRECTORY),
            )
        )
        return StagePlan(
            self.name, tuple(items), context.stage_log_dir(self.name), inputs=planned_inputs
        )


DL1_TO_DL2 = Dl1ToDl2Stage("dl1_to_dl2", Resources(partition="short", mem="32GB"))
