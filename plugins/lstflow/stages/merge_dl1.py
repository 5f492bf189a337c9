"""merge_dl1: ``lstchain_merge_hdf5_files -d IN -o OUT {options}``, options passed through."""

from __future__ import annotations

from lstflow.config.model import MergeDl1Entry
from lstflow.stages.base import PlanContext
from lstflow.stages.inputs import DIRECTORY, PlannedInput, entry_input
from lstflow.stages.simple import Command, EntryStage, split_options
from lstflow.workitems import Resources


def merge_command(entry: MergeDl1Entry, context: PlanContext) -> Command:
    argv = ("lstchain_merge_hdf5_files", "-d", entry.input, "-o", entry.output)
    return argv + split_options(entry.options), (entry.output,)


def merge_inputs(entry: MergeDl1Entry) -> tuple[PlannedInput, ...]:
    return (entry_input(entry, "input", DIRECTORY),)


MERGE_DL1 = EntryStage("merge_dl1", Resources(partition="long"), merge_command, inputs=merge_inputs)
