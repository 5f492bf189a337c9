"""dl2_to_sensitivity: lstflow's own pyirf job (lstmcpipe's crashes): a FITS file with the
sensitivity, cuts and IRF performance, a sensitivity plot and an IRF plot."""

from __future__ import annotations

from lstflow.config.model import Dl2ToSensitivityEntry
from lstflow.stages.base import PlanContext
from lstflow.stages.inputs import FILE, PlannedInput, entry_input
from lstflow.stages.simple import Command, EntryStage
from lstflow.workitems import Resources


def plot_path(sensitivity_path: str, tag: str = "") -> str:
    """Where ``lstflow.jobs.sensitivity`` writes its plots: ``x.fits.gz`` -> ``x{tag}.png``
    (no tag: the sensitivity plot, lstmcpipe's name; ``_irfs``: the IRF plot)."""
    return sensitivity_path.removesuffix(".gz").removesuffix(".fits") + tag + ".png"


def sensitivity_command(entry: Dl2ToSensitivityEntry, context: PlanContext) -> Command:
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
    return argv, (entry.output, plot_path(entry.output), plot_path(entry.output, "_irfs"))


def sensitivity_inputs(entry: Dl2ToSensitivityEntry) -> tuple[PlannedInput, ...]:
    fields = ("gamma_file", "proton_file", "electron_file")
    return tuple(entry_input(entry, name, FILE) for name in fields)


DL2_TO_SENSITIVITY = EntryStage(
    "dl2_to_sensitivity",
    Resources(partition="short", mem="32GB"),
    sensitivity_command,
    inputs=sensitivity_inputs,
)
