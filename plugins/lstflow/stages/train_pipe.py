"""train_pipe: the random forests, plus lstmcpipe's feature-importance plot job per entry."""

from __future__ import annotations

import posixpath

from lstflow.config.model import TrainPipeEntry
from lstflow.stages.base import SLURM_CONFIG, OptionLayers, PlanContext
from lstflow.stages.inputs import DIRECTORY, FILE, PlannedInput, entry_input
from lstflow.stages.simple import Command, EntryStage
from lstflow.workitems import Resources

FEATURE_IMPORTANCE_PNG = "features_importance.png"


def train_command(entry: TrainPipeEntry, context: PlanContext) -> Command:
    argv = (
        "lstchain_mc_trainpipe",
        "--fg",
        entry.gamma,
        "--fp",
        entry.proton,
        "-o",
        entry.output,
        "-c",
        context.lstchain_config,
    )
    return argv, (entry.output,)


def plot_command(entry: TrainPipeEntry, context: PlanContext) -> Command:
    argv = context.job_module("plot_rf_importance", entry.output, "-cf", context.lstchain_config)
    return argv, (posixpath.join(entry.output, FEATURE_IMPORTANCE_PNG),)


def plot_layers(entry: TrainPipeEntry, context: PlanContext) -> OptionLayers:
    """The plot's own setting only: a matplotlib job must never take (and block) the
    training's xxl partition, memory, CPUs or time, which its entry's options are for."""
    return ((SLURM_CONFIG, context.slurm_config.plot_rf_feat),)


def train_inputs(entry: TrainPipeEntry) -> tuple[PlannedInput, ...]:
    return (entry_input(entry, "gamma", FILE), entry_input(entry, "proton", FILE))


def plot_inputs(entry: TrainPipeEntry) -> tuple[PlannedInput, ...]:
    """The plot reads the models the training wrote."""
    return (entry_input(entry, "output", DIRECTORY),)


TRAIN_PIPE = EntryStage(
    "train_pipe",
    Resources(partition="xxl", mem="100GB", cpus_per_task=16),
    train_command,
    inputs=train_inputs,
)
PLOT_RF_FEAT = EntryStage(
    "plot_rf_feat",
    Resources(partition="short", mem="16GB"),
    plot_command,
    plot_layers,
    inputs=plot_inputs,
)
