"""dl2_to_irfs: ``lstchain_create_irf_files {options} -g G -o OUT [-p P] [-e E] --config=CONF``."""

from __future__ import annotations

from lstflow.config.model import Dl2ToIrfsEntry
from lstflow.stages.base import PlanContext
from lstflow.stages.inputs import FILE, PlannedInput, entry_input
from lstflow.stages.simple import Command, EntryStage, split_options
from lstflow.workitems import Resources


def irf_command(entry: Dl2ToIrfsEntry, context: PlanContext) -> Command:
    argv = ("lstchain_create_irf_files", *split_options(entry.options))
    argv += ("-g", entry.gamma_file, "-o", entry.output)
    if entry.proton_file:
        argv += ("-p", entry.proton_file)
    if entry.electron_file:
        argv += ("-e", entry.electron_file)
    return (*argv, f"--config={context.lstchain_config}"), (entry.output,)


def irf_inputs(entry: Dl2ToIrfsEntry) -> tuple[PlannedInput, ...]:
    fields = ("gamma_file", "proton_file", "electron_file")
    return tuple(entry_input(entry, name, FILE) for name in fields if getattr(entry, name))


DL2_TO_IRFS = EntryStage(
    "dl2_to_irfs", Resources(partition="short"), irf_command, inputs=irf_inputs
)
