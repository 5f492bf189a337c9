"""train_test_split: lstflow's idempotent split job (lstmcpipe's moves files and cannot rerun)."""

from __future__ import annotations

from lstflow.config.model import TrainTestSplitEntry
from lstflow.stages.base import PlanContext
from lstflow.stages.inputs import DIRECTORY, PlannedInput, entry_input
from lstflow.stages.simple import Command, EntryStage
from lstflow.workitems import Resources


def split_command(entry: TrainTestSplitEntry, context: PlanContext) -> Command:
    argv = context.job_module(
        "train_test_split",
        "-i",
        entry.input,
        "--otrain",
        entry.train,
        "--otest",
        entry.test,
        "-r",
        str(entry.ratio),
    )
    return argv, (entry.train, entry.test)


def split_inputs(entry: TrainTestSplitEntry) -> tuple[PlannedInput, ...]:
    return (entry_input(entry, "input", DIRECTORY),)


TRAIN_TEST_SPLIT = EntryStage(
    "train_test_split", Resources(partition="short"), split_command, inputs=split_inputs
)
