"""prod5 trans-80 with a train/test split (lstmcpipe's ``PathConfigProd5Trans80``), and its
DL1ab variant (``PathConfigProd5Trans80DL1ab``) reprocessing another production's DL1.

Unlike lstmcpipe, each gamma offset is split into its own train/test directories and every
offset's test file flows to its own DL2, IRF and sensitivity (lstmcpipe mixed off0.0deg into
off0.4deg). The pointing is fixed, so the pointing RF features are dropped.
"""

from __future__ import annotations

from pathlib import Path

from lstflow.config.generate.builder import GeneratedProduction, GenerationRequest, StagesBuilder
from lstflow.config.generate.discovery import has_simtel_files
from lstflow.config.generate.layout import Prod5Layout
from lstflow.config.model import (
    Dl1abEntry,
    Dl1ToDl2Entry,
    Dl2ToIrfsEntry,
    Dl2ToSensitivityEntry,
    MergeDl1Entry,
    R0ToDl1Entry,
    TrainPipeEntry,
    TrainTestSplitEntry,
)

GAMMA_OFFSETS = ("off0.0deg", "off0.4deg")
TRAINING = ("gamma-diffuse", "proton")
# (particle, offset) of every sample, in the order lstmcpipe lists them
SAMPLES: tuple[tuple[str, str | None], ...] = (
    *(("gamma", offset) for offset in GAMMA_OFFSETS),
    ("gamma-diffuse", None),
    ("electron", None),
    ("proton", None),
)
POINT_LIKE = "--point-like"


def generate_prod5_trans80(request: GenerationRequest) -> GeneratedProduction:
    layout = Prod5Layout(request.data_root, request.prod_id, request.zenith)
    scan = Prod5Layout(str(request.scan_root), request.prod_id, request.zenith)
    stages = StagesBuilder()
    for particle, offset in SAMPLES:
        if not has_simtel_files(Path(scan.dl0(particle, offset))):
            stages.missing.append(f"no DL0 files in {scan.dl0(particle, offset)}")
        dl1 = layout.dl1(particle, offset)
        stages.add(R0ToDl1Entry, input=layout.dl0(particle, offset), output=dl1)
        stages.add(TrainTestSplitEntry, input=dl1, train=f"{dl1}/train", test=f"{dl1}/test")
    _from_split_dl1(stages, layout, request.prod_id)
    return stages.build(request, "PathConfigProd5Trans80", keep_pointing_features=False)


def generate_prod5_trans80_dl1ab(request: GenerationRequest) -> GeneratedProduction:
    """``PathConfigProd5Trans80DL1ab``: the source production's split DL1 through dl1ab.

    lstmcpipe's class gave dl1ab the source's merged files (dl1ab reads directories, and merged
    training files have no images), so nobody used it. Here dl1ab reprocesses the source's
    train/test directories, which are then merged like ``Prod5Trans80`` does.
    """
    assert request.source_prod_id is not None  # checked by generate()
    layout = Prod5Layout(request.data_root, request.prod_id, request.zenith)
    source = Prod5Layout(request.data_root, request.source_prod_id, request.zenith)
    source_scan = Prod5Layout(str(request.scan_root), request.source_prod_id, request.zenith)
    stages = StagesBuilder()
    for particle, offset in SAMPLES:
        for half in ("train", "test") if particle in TRAINING else ("test",):
            found = Path(source_scan.dl1(particle, offset), half)
            if not found.is_dir():
                stages.missing.append(f"source DL1 {found} does not exist")
            stages.add(
                Dl1abEntry,
                input=f"{source.dl1(particle, offset)}/{half}",
                output=f"{layout.dl1(particle, offset)}/{half}",
            )
    _from_split_dl1(stages, layout, request.prod_id)
    return stages.build(request, "PathConfigProd5Trans80DL1ab", keep_pointing_features=False)


def _from_split_dl1(stages: StagesBuilder, layout: Prod5Layout, prod_id: str) -> None:
    """Merges of the train/test halves, training, DL2, sensitivity and IRFs per offset."""
    for particle in TRAINING:
        stages.add(
            MergeDl1Entry,
            input=f"{layout.dl1(particle)}/train",
            output=layout.merged_dl1(particle, "train"),
            options="--no-image",
        )
    for particle, offset in SAMPLES:
        stages.add(
            MergeDl1Entry,
            input=f"{layout.dl1(particle, offset)}/test",
            output=layout.merged_dl1(particle, "test", offset),
        )
    stages.add(
        TrainPipeEntry,
        gamma=layout.merged_dl1("gamma-diffuse", "train"),
        proton=layout.merged_dl1("proton", "train"),
        output=layout.models(),
    )
    for particle, offset in SAMPLES:
        stages.add(
            Dl1ToDl2Entry,
            input=layout.merged_dl1(particle, "test", offset),
            output=layout.dl2(particle, offset),
            path_model=layout.models(),
        )
    backgrounds = {
        "proton_file": layout.dl2_file("proton"),
        "electron_file": layout.dl2_file("electron"),
    }
    for offset in GAMMA_OFFSETS:
        name = f"sensitivity_{prod_id}_{offset}.fits.gz"
        stages.add(
            Dl2ToSensitivityEntry,
            gamma_file=layout.dl2_file("gamma", offset),
            output=f"{layout.irf_dir(offset)}/{name}",
            **backgrounds,
        )
    stages.add(
        Dl2ToIrfsEntry,
        gamma_file=layout.dl2_file("gamma-diffuse"),
        output=f"{layout.irf_dir('diffuse')}/irf_{prod_id}_diffuse.fits.gz",
        **backgrounds,
    )
    for offset in GAMMA_OFFSETS:
        stages.add(
            Dl2ToIrfsEntry,
            gamma_file=layout.dl2_file("gamma", offset),
            output=f"{layout.irf_dir(offset)}/irf_{prod_id}_{offset}.fits.gz",
            options=POINT_LIKE,
            **backgrounds,
        )
