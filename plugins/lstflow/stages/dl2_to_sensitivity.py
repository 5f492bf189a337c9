"""dl2_to_sensitivity: lstflow's own pyirf job (lstmcpipe's crashes), FITS table plus PNG plot."""

from __future__ import annotations

from lstflow.config.model import Dl2ToSensitivityEntry
from lstflow.stages.base import PlanContext
from lstflow.stages.simple import Command, EntryStage
from lstflow.workitems import Resources


def plot_path(sensitivity_path: str) -> str:
    return sensitivity_path.removesuffix(".gz").removesuffix(".fits") + ".png"


def sensitivity_command(
    entry: Dl2ToSensitivityEntry, context: PlanContext
) -> Command:
    argv = context.job_module(
        "sensitivity",
        "-g",
        entry.gamma_file,
        "-p",
        entry.proton_file,
        "-e",
        entry.electron_file,
        "-o",
        entry.output,
    )
    return argv, (entry.output, plot_path(entry.output))


DL2_TO_SENSITIVITY = EntryStage(
    "dl2_to_sensitivity", Resources(partition="short", mem="32GB"), sensitivity_command
)
