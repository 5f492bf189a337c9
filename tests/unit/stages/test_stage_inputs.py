"""Every stage declares what it reads (file or directory, with its YAML key), so a missing input
fails when the stage is planned, not in lstchain on Slurm."""

from __future__ import annotations

import pytest

from lstflow.config.model import Dl1ToDl2Entry, MergeDl1Entry, TrainPipeEntry
from lstflow.stages.base import PlanContext
from lstflow.stages.dl1_to_dl2 import DL1_TO_DL2
from lstflow.stages.inputs import DIRECTORY, FILE, PlannedInput, input_problems
from lstflow.stages.merge_dl1 import MERGE_DL1
from lstflow.stages.train_pipe import PLOT_RF_FEAT, TRAIN_PIPE

pytestmark = pytest.mark.unit

CONTEXT = PlanContext(prod_id="p", lstchain_config="/c.json", log_root="/logs")


def test_merge_reads_a_directory_named_by_its_yaml_key() -> None:
    entries = [MergeDl1Entry(index=2, input="/dl1/gamma", output="/m/gamma.h5")]
    assert MERGE_DL1.plan(entries, CONTEXT).inputs == (
        PlannedInput("/dl1/gamma", DIRECTORY, "stages.merge_dl1[2].input"),
    )


def test_training_reads_files_and_its_plot_the_models_directory() -> None:
    entries = [TrainPipeEntry(index=0, gamma="/m/g.h5", proton="/m/p.h5", output="/models")]
    assert TRAIN_PIPE.plan(entries, CONTEXT).inputs == (
        PlannedInput("/m/g.h5", FILE, "stages.train_pipe[0].input.gamma"),
        PlannedInput("/m/p.h5", FILE, "stages.train_pipe[0].input.proton"),
    )
    assert PLOT_RF_FEAT.plan(entries, CONTEXT).inputs == (
        PlannedInput("/models", DIRECTORY, "stages.train_pipe[0].output"),
    )


def test_dl1_to_dl2_reads_its_file_and_models() -> None:
    entries = [Dl1ToDl2Entry(index=1, input="/m/g.h5", output="/dl2", path_model="/models")]
    assert DL1_TO_DL2.plan(entries, CONTEXT).inputs == (
        PlannedInput("/m/g.h5", FILE, "stages.dl1_to_dl2[1].input"),
        PlannedInput("/models", DIRECTORY, "stages.dl1_to_dl2[1].path_model"),
    )


def test_input_problems_name_the_key_path_and_what_is_wrong() -> None:
    inputs = (
        PlannedInput("/dl1/gamma", DIRECTORY, "stages.merge_dl1[0].input"),
        PlannedInput("/dl1/proton", DIRECTORY, "stages.merge_dl1[1].input"),
        PlannedInput("/m/g.h5", FILE, "stages.train_pipe[0].input.gamma"),
    )
    kinds = {"/dl1/gamma": "directory", "/dl1/proton": "missing", "/m/g.h5": "directory"}
    assert input_problems(inputs, kinds) == [
        "stages.merge_dl1[1].input: input directory /dl1/proton does not exist",
        "stages.train_pipe[0].input.gamma: input file /m/g.h5 is a directory, not a file",
    ]
