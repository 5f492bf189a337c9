"""The generator kinds added for lstmcpipe 0.11's remaining PathConfig classes and the NSB grid:
their stages are lstmcpipe's, their paths follow its layouts (reference/lstmcpipe.md §3), and
every command they plan has the shape lstmcpipe's stage builds (§2)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

import pytest
from config_helpers import GD_NODES, TEST_NODES, request

from lstflow.cli import main
from lstflow.config import ProductionConfig, load_production
from lstflow.config.generate import GenerationError, generate, generate_all
from lstflow.stages.base import PlanContext
from lstflow.stages.registry import plan_stage, stages_to_run

pytestmark = pytest.mark.unit

CONF = "/logs/config/lstchain_config.json"
P = r"/\S+"  # a path
# lstmcpipe 0.11.5's command of each stage (reference/lstmcpipe.md §2); split, plot and
# sensitivity are lstflow's own jobs, whose shape lstflow defines.
SHAPES = {
    "r0_to_dl1": rf"lstchain_mc_r0_to_dl1 --input-file={P} --output-dir={P} --config={CONF}",
    "dl1ab": rf"lstchain_dl1ab --no-image --input-file={P} --output-file={P} --config={CONF}",
    "train_test_split": rf"python -m lstflow\.jobs\.train_test_split -i {P} --otrain {P} "
    rf"--otest {P} -r 0\.5",
    "merge_dl1": rf"lstchain_merge_hdf5_files -d {P} -o {P}( --pattern '\*(/\*)+\.h5')?"
    r"( --no-image)?",
    "train_pipe": rf"lstchain_mc_trainpipe --fg {P} --fp {P} -o {P} -c {CONF}",
    "plot_rf_feat": rf"python -m lstflow\.jobs\.plot_rf_importance {P} -cf {CONF}",
    "dl1_to_dl2": rf"lstchain_dl1_to_dl2 -f {P} -p {P} -o {P} -c {CONF}",
    "dl2_to_irfs": rf"lstchain_create_irf_files( --point-like)? -g {P} -o {P}( -p {P})?"
    rf"( -e {P})? --config={CONF}",
    "dl2_to_sensitivity": rf"python -m lstflow\.jobs\.sensitivity -g {P} -p {P} -e {P} -o {P}",
}
# lstmcpipe's stages of each class (§3); Prod5Trans80DL1ab adds merge_dl1 (see prod5.py).
STAGES = {
    "Prod5Trans80DL1ab": (
        "dl1ab",
        "merge_dl1",
        "train_pipe",
        "dl1_to_dl2",
        "dl2_to_irfs",
        "dl2_to_sensitivity",
    ),
    "AllSkyTrainingWithSplit": ("r0_to_dl1", "train_test_split", "merge_dl1", "train_pipe"),
    "AllSkyTestingGammaDiffuse": ("merge_dl1", "dl1_to_dl2", "dl2_to_irfs"),
    "AllSkyTrainingDL1ab": ("dl1ab", "merge_dl1", "train_pipe"),
    "AllSkyTestingDL1ab": ("dl1ab", "merge_dl1", "dl1_to_dl2", "dl2_to_irfs"),
}
GRID_STAGES = (
    "r0_to_dl1",
    "train_test_split",
    "merge_dl1",
    "train_pipe",
    "dl1_to_dl2",
    "dl2_to_irfs",
)


class OneFilePerDirectory:
    def list_directories(
        self, directories: Sequence[str], patterns: Sequence[str]
    ) -> dict[str, list[str] | None]:
        suffix = patterns[0].lstrip("*")
        return {d: [f"{d.rstrip('/')}/run1{suffix}"] for d in directories}


def planned_commands(config: ProductionConfig) -> dict[str, list[str]]:
    """Every command of every stage, file-batch stages through their manifests."""
    context = PlanContext(
        prod_id=config.prod_id, lstchain_config=CONF, log_root="/logs", files=OneFilePerDirectory()
    )
    commands: dict[str, list[str]] = {}
    for stage in stages_to_run(config):
        plan = plan_stage(config, stage, context)
        if plan.files:
            ((_, manifest),) = plan.files
            elements = json.loads(manifest)["elements"]
            commands[stage] = [shlex.join(task["argv"]) for tasks in elements for task in tasks]
        else:
            commands[stage] = [shlex.join(item.argv) for item in plan.items]
    return commands


def assert_lstmcpipe_shapes(config: ProductionConfig) -> None:
    for stage, commands in planned_commands(config).items():
        assert commands, stage
        for command in commands:
            assert re.fullmatch(SHAPES[stage], command), (stage, command)


@pytest.mark.parametrize("kind", sorted(STAGES))
def test_new_kind_has_lstmcpipes_stages_and_command_shapes(kind: str, data_root: Path) -> None:
    generated = generate(kind, request(data_root, dec_list=("dec_2276",)))
    assert generated.config.stages_to_run == STAGES[kind]
    assert generated.config.prod_type == f"PathConfig{kind}"
    assert_lstmcpipe_shapes(generated.config)


def rel(path: str, root: Path) -> str:
    return path.removeprefix(f"{root}/")


def test_training_with_split_trains_on_the_train_half(data_root: Path) -> None:
    config = generate("AllSkyTrainingWithSplit", request(data_root, dec_list=("dec_2276",))).config
    split = config.entries("train_test_split")[0]
    base = "mc/DL1/AllSky/gen"
    assert (rel(split.train, data_root), rel(split.test, data_root)) == (  # type: ignore[attr-defined]
        f"{base}/TrainingDataset/GammaDiffuse/dec_2276/{GD_NODES[0]}/train",
        f"{base}/TestingDataset/GammaDiffuse/dec_2276/{GD_NODES[0]}/test",
    )
    merges = {rel(e.output, data_root): e.options for e in config.entries("merge_dl1")}  # type: ignore[attr-defined]
    assert merges == {
        f"{base}/TrainingDataset/GammaDiffuse/dec_2276/"
        "dl1_gen_train_dec_2276_GammaDiffuse_merged.h5": "--pattern */*/*.h5 --no-image",
        f"{base}/TrainingDataset/Protons/dec_2276/"
        "dl1_gen_train_dec_2276_Protons_merged.h5": "--pattern */*.h5 --no-image",
    }


def test_testing_gamma_diffuse_uses_the_test_halves_and_this_productions_models(
    data_root: Path,
) -> None:
    config = generate(
        "AllSkyTestingGammaDiffuse", request(data_root, dec_list=("dec_2276",))
    ).config
    base = "mc/DL1/AllSky/gen/TestingDataset/GammaDiffuse/dec_2276"
    merge = config.entries("merge_dl1")[0]
    assert rel(merge.input, data_root) == f"{base}/{GD_NODES[0]}"  # type: ignore[attr-defined]
    assert merge.options == "--pattern */*.h5 --no-image"  # type: ignore[attr-defined]
    assert rel(merge.output, data_root) == (  # type: ignore[attr-defined]
        f"{base}/dl1_gen_GammaDiffuse_test_dec_2276_{GD_NODES[0]}_merged.h5"
    )
    dl2 = config.entries("dl1_to_dl2")[0]
    assert rel(dl2.path_model, data_root) == "models/AllSky/gen/dec_2276"  # type: ignore[attr-defined]
    irfs = config.entries("dl2_to_irfs")
    assert len(irfs) == len(GD_NODES)
    assert all(irf.options is None for irf in irfs)  # type: ignore[attr-defined]  # full enclosure


def test_dl1ab_kinds_read_the_source_production(data_root: Path) -> None:
    training = generate("AllSkyTrainingDL1ab", request(data_root, dec_list=("dec_2276",))).config
    assert rel(training.entries("dl1ab")[0].input, data_root) == (  # type: ignore[attr-defined]
        f"mc/DL1/AllSky/src/TrainingDataset/GammaDiffuse/dec_2276/{GD_NODES[0]}"
    )
    assert rel(training.entries("dl1ab")[0].output, data_root) == (  # type: ignore[attr-defined]
        f"mc/DL1/AllSky/gen/TrainingDataset/GammaDiffuse/dec_2276/{GD_NODES[0]}"
    )
    testing = generate("AllSkyTestingDL1ab", request(data_root, dec_list=("dec_2276",))).config
    assert [rel(e.input, data_root) for e in testing.entries("dl1ab")] == [  # type: ignore[attr-defined]
        f"mc/DL1/AllSky/src/TestingDataset/Gamma/{node}" for node in TEST_NODES
    ]
    assert {e.options for e in testing.entries("dl2_to_irfs")} == {"--point-like"}  # type: ignore[attr-defined]
    prod5 = generate("Prod5Trans80DL1ab", request(data_root, dec_list=()))
    assert prod5.missing == ()
    base = "mc/DL1/20200629_prod5_trans_80/gamma-diffuse/zenith_20deg/south_pointing"
    assert [
        (rel(e.input, data_root), rel(e.output, data_root))  # type: ignore[attr-defined]
        for e in prod5.config.entries("dl1ab")
        if "gamma-diffuse" in e.input  # type: ignore[attr-defined]
    ] == [(f"{base}/src/{half}", f"{base}/gen/{half}") for half in ("train", "test")]
    assert not prod5.keep_pointing_features


def test_nsb_grid_is_one_full_production_per_level(data_root: Path) -> None:
    levels = generate_all(
        "AllSkyNsbGrid", request(data_root, prod_id="grid", nsb_levels=("0", ".07", "0.14"))
    )
    assert [(g.directory, g.config.prod_id) for g in levels] == [
        ("NSB-0.00", "grid_allsky_nsb_tuning_0.00"),
        ("NSB-0.07", "grid_allsky_nsb_tuning_0.07"),
        ("NSB-0.14", "grid_allsky_nsb_tuning_0.14"),
    ]
    assert levels[1].lstchain_settings == (
        ("waveform_nsb_tuning", "nsb_tuning", True),
        ("waveform_nsb_tuning", "nsb_tuning_rate_GHz", 0.07),
    )
    for generated in levels:
        config = generated.config
        assert config.stages_to_run == GRID_STAGES
        assert len(config.entries("train_pipe")) == 2  # one per declination
        # DL2 and IRFs per declination and point-gamma test node, and per split diffuse node
        assert len(config.entries("dl2_to_irfs")) == 2 * (len(TEST_NODES) + len(GD_NODES))
        assert_lstmcpipe_shapes(config)


def test_cli_writes_the_grid_with_its_lstchain_configs(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs the real lstchain_dump_config once and tunes the NSB of each level's copy."""
    out = tmp_path / "grid"
    argv = [
        "generate-config",
        "AllSkyNsbGrid",
        "--prod-id",
        "20250101_grid",
        "--dec-list",
        "dec_2276",
        "dec_3476",
        "--nsb-levels",
        "0.00",
        "0.07",
        "--data-root",
        str(data_root),
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    written = capsys.readouterr().out.splitlines()
    assert len(written) == 2 and all(line.startswith("wrote ") for line in written)
    for label, tuned in (("0.00", False), ("0.07", True)):
        level = out / f"NSB-{label}"
        prod_id = f"20250101_grid_allsky_nsb_tuning_{label}"
        config = load_production(level / f"lstmcpipe_config_{prod_id}.yaml")
        assert config.prod_id == prod_id
        assert config.lstchain_config == level / f"lstchain_config_{prod_id}.json"
        nsb = json.loads(config.lstchain_config.read_text())["waveform_nsb_tuning"]
        assert (nsb["nsb_tuning"], nsb["nsb_tuning_rate_GHz"]) == (tuned, float(label))
        readme = (level / "README.md").read_text()
        assert readme.startswith(f"# {prod_id}\n")
        assert f"NSB level {label} GHz of the grid 20250101_grid" in readme
    assert main(["validate", "--no-lstchain", str(out)]) == 0
    assert main(argv) == 1
    assert "refusing to replace" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ((), "AllSkyNsbGrid needs --nsb-levels (e.g. --nsb-levels 0.00 0.07)"),
        (("x",), "NSB level 'x' is not a number (e.g. 0.07, in GHz)"),
        (("-1",), "NSB level '-1' must be a rate >= 0 (GHz)"),
        (("0.1", "0.10"), "NSB levels repeat: 0.10 0.10"),
    ],
)
def test_nsb_grid_needs_valid_levels(
    data_root: Path, levels: tuple[str, ...], message: str
) -> None:
    with pytest.raises(GenerationError) as raised:
        generate_all("AllSkyNsbGrid", request(data_root, nsb_levels=levels))
    assert str(raised.value) == message
