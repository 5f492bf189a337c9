"""Config generation: round trips through YAML, the AllSky layout on a synthetic DL0 tree, the
prod5 offset fix, and (through the CLI, with the real lstchain_dump_config) the feature fix."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from config_helpers import GD_NODES, ONLY_PROTON, TEST_NODES, request

from lstflow.cli import main
from lstflow.config import ProductionConfig, load_production
from lstflow.config.dump import dump_production
from lstflow.config.generate import KINDS, GenerationError, generate, generate_all

pytestmark = pytest.mark.unit


def round_trip(config: ProductionConfig, directory: Path) -> ProductionConfig:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "lstchain_config.json").write_text("{}")
    path = directory / "lstmcpipe_config.yaml"
    path.write_text(dump_production(config, "generated"))
    return load_production(path)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_generated_config_round_trips(kind: str, data_root: Path, tmp_path: Path) -> None:
    productions = generate_all(kind, request(data_root, nsb_levels=("0.0", "0.07")))
    for generated in productions:
        loaded = round_trip(generated.config, tmp_path / "out" / generated.config.prod_id)
        assert loaded.warnings == ()
        assert replace(loaded, path=Path(), lstchain_config=None, readme=None) == generated.config
        assert all(loaded.entries(stage) for stage in loaded.stages_to_run)


def paths_of(config: ProductionConfig, stage: str, field: str, root: Path) -> list[str]:
    return [getattr(entry, field).removeprefix(f"{root}/") for entry in config.entries(stage)]


def test_allsky_layout_from_synthetic_dl0_tree(data_root: Path) -> None:
    generated = generate("AllSkyFull", request(data_root, dec_list=("dec_2276",)))
    config = generated.config
    assert config.stages_to_run == (
        "r0_to_dl1",
        "merge_dl1",
        "train_pipe",
        "dl1_to_dl2",
        "dl2_to_irfs",
    )
    assert paths_of(config, "r0_to_dl1", "output", data_root) == [
        f"mc/DL1/AllSky/gen/TrainingDataset/{particle}/dec_2276/{node}"
        for particle in ("GammaDiffuse", "Protons")
        for node in GD_NODES
    ] + [f"mc/DL1/AllSky/gen/TestingDataset/Gamma/{node}" for node in TEST_NODES]
    assert paths_of(config, "r0_to_dl1", "input", data_root)[0] == (
        f"mc/DL0/LSTProd2/TrainingDataset/GammaDiffuse/dec_2276/sim_telarray/{GD_NODES[0]}/output_v1.4"
    )
    assert paths_of(config, "merge_dl1", "output", data_root) == [
        "mc/DL1/AllSky/gen/TrainingDataset/GammaDiffuse/dec_2276/dl1_gen_train_dec_2276_GammaDiffuse_merged.h5",
        "mc/DL1/AllSky/gen/TrainingDataset/Protons/dec_2276/dl1_gen_train_dec_2276_Protons_merged.h5",
    ] + [
        f"mc/DL1/AllSky/gen/TestingDataset/Gamma/dl1_gen_Gamma_test_{node}_merged.h5"
        for node in TEST_NODES
    ]
    [train] = config.entries("train_pipe")
    assert train.output == f"{data_root}/models/AllSky/gen/dec_2276"  # type: ignore[attr-defined]
    assert dict(train.extra_slurm_options) == {
        "partition": "xxl",
        "mem": "160G",
        "cpus-per-task": "16",
        "time": "03-00:00:00",
    }
    assert paths_of(config, "dl2_to_irfs", "output", data_root) == [
        f"mc/IRF/AllSky/gen/TestingDataset/Gamma/dec_2276/{node}/irf_gen_Gamma_dec_2276_{node}.fits.gz"
        for node in TEST_NODES
    ]
    assert paths_of(config, "dl2_to_irfs", "gamma_file", data_root)[0] == (
        f"mc/DL2/AllSky/gen/TestingDataset/Gamma/dec_2276/{TEST_NODES[0]}/"
        f"dl2_gen_Gamma_test_{TEST_NODES[0]}_merged.h5"
    )
    assert generated.missing == (
        f"dec_2276: Protons node {ONLY_PROTON} has no counterpart in the other training "
        "particle: skipped",
        f"{data_root}/mc/DL0/LSTProd2/TestDataset/sim_telarray/node_theta_60.0_az_0.0_: "
        "no simtel files in output_v1.4/",
    )
    assert generated.keep_pointing_features


def test_split_diffuse_halves_and_merge_pattern(data_root: Path) -> None:
    config = generate("AllSkyFullSplitDiffuse", request(data_root, dec_list=("dec_3476",))).config
    first = config.entries("train_test_split")[0]
    node_dir = f"{data_root}/mc/DL1/AllSky/gen"
    assert (first.train, first.test) == (  # type: ignore[attr-defined]
        f"{node_dir}/TrainingDataset/GammaDiffuse/dec_3476/{GD_NODES[0]}/train",
        f"{node_dir}/TestingDataset/GammaDiffuse/dec_3476/{GD_NODES[0]}/test",
    )
    options = {
        entry.output.rsplit("/", 1)[1]: entry.options for entry in config.entries("merge_dl1")
    }  # type: ignore[attr-defined]
    assert (
        options["dl1_gen_train_dec_3476_GammaDiffuse_merged.h5"] == "--pattern */*/*.h5 --no-image"
    )
    assert options["dl1_gen_train_dec_3476_Protons_merged.h5"] == "--pattern */*.h5 --no-image"


def test_dl1ab_and_dl1b_reuse_the_source_and_report_what_is_missing(data_root: Path) -> None:
    dl1ab = generate("AllSkyFullDL1ab", request(data_root))
    assert paths_of(dl1ab.config, "dl1ab", "input", data_root)[0] == (
        f"mc/DL1/AllSky/src/TrainingDataset/GammaDiffuse/dec_2276/{GD_NODES[0]}"
    )
    assert len(dl1ab.config.entries("train_pipe")) == 1  # dec_3476 has no source DL1
    assert any("dec_3476" in item and "does not exist" in item for item in dl1ab.missing)
    dl1b = generate("TrainTestDL1b", request(data_root))
    assert dl1b.config.stages_to_run == ("train_pipe", "dl1_to_dl2")
    assert "dec_3476: dropped, its training merges are missing" in dl1b.missing
    assert paths_of(dl1b.config, "dl1_to_dl2", "input", data_root)[0] == (
        f"mc/DL1/AllSky/src/TestingDataset/Gamma/dl1_src_Gamma_test_{TEST_NODES[0]}_merged.h5"
    )
    assert dl1b.keep_pointing_features


def test_prod5_keeps_offsets_apart(data_root: Path) -> None:
    generated = generate("Prod5Trans80", request(data_root, dec_list=()))
    assert generated.missing == () and not generated.keep_pointing_features
    config = generated.config
    base = "mc/DL1/20200629_prod5_trans_80/gamma/zenith_20deg/south_pointing/gen"
    splits = [(e.input, e.train, e.test) for e in config.entries("train_test_split")[:2]]  # type: ignore[attr-defined]
    assert [tuple(p.removeprefix(f"{data_root}/") for p in split) for split in splits] == [
        (f"{base}/{off}", f"{base}/{off}/train", f"{base}/{off}/test")
        for off in ("off0.0deg", "off0.4deg")
    ]
    irfs = {e.output.rsplit("/", 1)[1]: e.gamma_file for e in config.entries("dl2_to_irfs")}  # type: ignore[attr-defined]
    assert irfs["irf_gen_off0.0deg.fits.gz"].endswith("/off0.0deg/dl2_gamma_gen_test.h5")
    assert irfs["irf_gen_off0.4deg.fits.gz"].endswith("/off0.4deg/dl2_gamma_gen_test.h5")


def test_missing_arguments_are_errors(data_root: Path) -> None:
    with pytest.raises(GenerationError, match="AllSkyFull needs --dec-list"):
        generate("AllSkyFull", request(data_root, dec_list=()))
    with pytest.raises(GenerationError, match="AllSkyFullDL1ab needs --source-prod-id"):
        generate("PathConfigAllSkyFullDL1ab", request(data_root, source_prod_id=None))
    with pytest.raises(GenerationError, match="no declination has training data"):
        generate("AllSkyTraining", request(data_root, dec_list=("dec_9999",)))


def features(path: Path) -> set[str]:
    config = json.loads(path.read_text())
    return {name for key, value in config.items() if key.endswith("_features") for name in value}


def test_cli_writes_a_valid_portable_production(
    data_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Runs the real lstchain_dump_config; prod5 drops the pointing features, DL1b keeps them."""
    monkeypatch.setenv("LSTFLOW_DATA_ROOT", str(data_root))
    out = tmp_path / "prod5"
    argv = [
        "generate-config",
        "Prod5Trans80",
        "--prod-id",
        "p5",
        "--data-root",
        "${LSTFLOW_DATA_ROOT}",
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    config = load_production(out / "lstmcpipe_config_p5.yaml")
    assert config.entries("r0_to_dl1")[0].input.startswith(f"{data_root}/mc/DL0/")  # type: ignore[attr-defined]
    assert "${LSTFLOW_DATA_ROOT}/mc/DL0/" in (out / "lstmcpipe_config_p5.yaml").read_text()
    assert not features(out / "lstchain_config_p5.json") & {"alt_tel", "az_tel", "sin_az_tel"}
    assert (out / "README.md").read_text().startswith("# p5\n")
    assert main(argv) == 1
    assert "refusing to replace" in capsys.readouterr().err
    dl1b = tmp_path / "dl1b"
    assert (
        main(
            [
                "generate-config",
                "TrainTestDL1b",
                "--prod-id",
                "b",
                "--source-prod-id",
                "src",
                "--dec-list",
                "dec_2276",
                "--data-root",
                str(data_root),
                "-o",
                str(dl1b),
            ]
        )
        == 0
    )
    assert {"alt_tel", "sin_az_tel"} <= features(dl1b / "lstchain_config_b.json")


def test_cli_refuses_an_invalid_prod_id_before_writing_anything(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["generate-config", "Prod5Trans80", "--prod-id", "bad id!"]
    assert main([*argv, "--data-root", str(data_root), "-o", str(out)]) == 2
    assert "--prod-id 'bad id!' may hold only letters" in capsys.readouterr().err
    assert not out.exists()


def test_cli_takes_lstmcpipe_spellings_and_documents_its_options(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """lstmcpipe users type --prod_id and --dec_list; every option has a help text."""
    out = tmp_path / "dl1b"
    argv = ["generate-config", "AllTrainTestDL1b", "--prod_id", "b", "--source_prod_id", "src"]
    argv += ["--dec_list", "dec_2276", "--data_root", str(data_root), "--output_dir", str(out)]
    assert main(argv) == 0
    assert (out / "lstmcpipe_config_b.yaml").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["generate-config", "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    for text in ("--prod-id PROD_ID, --prod_id PROD_ID the production's name", "e.g. include/"):
        assert text in usage
    assert "--data-root DATA_ROOT, --data_root DATA_ROOT the directory holding mc/" in usage
