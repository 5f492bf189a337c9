"""The real sample productions, the YAML 1.2 loader, the parse cache and env-var expansion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from config_helpers import MINIMAL, WriteConfig

from lstflow.config import (
    ConfigError,
    Dl1ToDl2Entry,
    MergeDl1Entry,
    TrainTestSplitEntry,
    load_library,
    load_production,
)

pytestmark = pytest.mark.unit

SAMPLES = {
    "20240122_v0.10.4_prod5_trans80": {
        "r0_to_dl1": 5,
        "train_test_split": 5,
        "merge_dl1": 7,
        "train_pipe": 1,
        "dl1_to_dl2": 5,
        "dl2_to_irfs": 3,
        "dl2_to_sensitivity": 2,
    },
    "20240430_v0.10.4_src9_dec3476_tuned": {
        "r0_to_dl1": 40,
        "train_test_split": 20,
        "merge_dl1": 22,
        "train_pipe": 1,
        "dl1_to_dl2": 20,
    },
    "20240716_v0.10.7_src10_dec3476_tuned": {
        "dl1ab": 38,
        "train_test_split": 20,
        "merge_dl1": 22,
        "train_pipe": 1,
        "dl1_to_dl2": 20,
    },
}


def test_samples_load_and_validate_unchanged(samples_dir: Path) -> None:
    library = load_library(samples_dir)
    assert library.errors == {}
    assert {
        prod_id: parts.default.entry_counts() for prod_id, parts in library.productions.items()
    } == SAMPLES
    assert all(len(parts.configs) == 1 for parts in library.productions.values())
    for config in (parts.default for parts in library.productions.values()):
        assert config.warnings == ()
        assert config.lstchain_config is not None and config.lstchain_config.parent == (
            config.path.parent
        )
        assert config.readme is not None and config.readme.name.lower() == "readme.md"
        assert config.source_environment.prologue() == (
            ("source", "/fefs/aswg/software/conda/etc/profile.d/conda.sh"),
            ("conda", "activate", "lstchain-v0.10.7"),
        )
        assert config.slurm_config.user_account == "dpps"


def test_sample_entries_are_typed(samples_dir: Path) -> None:
    config = load_library(samples_dir).productions["20240430_v0.10.4_src9_dec3476_tuned"].default
    merge = config.entries("merge_dl1")[0]
    assert isinstance(merge, MergeDl1Entry)
    assert merge.options == "--pattern */*.h5 --no-image"
    assert merge.extra_slurm_options == (("partition", "long"),)
    dl2 = config.entries("dl1_to_dl2")[3]
    assert isinstance(dl2, Dl1ToDl2Entry) and dl2.index == 3
    assert dl2.path_model.endswith("/models/AllSky/20240430_v0.10.4_src9_dec3476_tuned/dec_3476")
    split = config.entries("train_test_split")[0]
    assert isinstance(split, TrainTestSplitEntry) and split.ratio == 0.5


def test_slurm_times_stay_strings(write_config: WriteConfig) -> None:
    config = load_production(write_config(MINIMAL.format(prod_id="times")))
    assert config.entries("r0_to_dl1")[0].extra_slurm_options == (
        ("time", "11:30:00"),
        ("mem", "50GB"),
    )


def test_yaml_12_scalars(write_config: WriteConfig) -> None:
    text = MINIMAL.format(prod_id="2024-01-22").replace(
        "conda_env: lstchain-v0.12.3", "conda_env: no"
    )
    config = load_production(write_config(text))
    assert config.prod_id == "2024-01-22"
    assert config.source_environment.conda_env == "no"


def test_legacy_slurm_options_are_applied_under_extra_options_with_warning(
    write_config: WriteConfig,
) -> None:
    text = MINIMAL.format(prod_id="legacy").replace(
        "    options: --no-image\n",
        "    options: --no-image\n    slurm_options: --mem=50GB --time 10:00:00\n"
        "    extra_slurm_options: {mem: 60GB}\n",
    )
    config = load_production(write_config(text))
    merge = config.entries("merge_dl1")[0]
    assert merge.legacy_slurm_options == (("mem", "50GB"), ("time", "10:00:00"))
    assert merge.extra_slurm_options == (("mem", "60GB"),)
    assert [warning.format(config.path) for warning in config.warnings] == [
        f"{config.path}: stages.merge_dl1[0]: deprecated 'slurm_options': lstmcpipe 0.11.5 "
        "ignores it, lstflow applies it (--mem=50GB --time=10:00:00) (move it to "
        "'extra_slurm_options: {name: value}')"
    ]


def test_test_size_is_the_ratio(write_config: WriteConfig) -> None:
    text = (
        MINIMAL.format(prod_id="split")
        .replace("[r0_to_dl1, merge_dl1]", "[r0_to_dl1, train_test_split, merge_dl1]")
        .replace(
            "  merge_dl1:\n",
            "  train_test_split:\n  - input: /dl1\n    output: {train: /t, test: /s}\n"
            "    options: {test_size: 0.25}\n  merge_dl1:\n",
        )
    )
    config = load_production(write_config(text))
    split = config.entries("train_test_split")[0]
    assert isinstance(split, TrainTestSplitEntry) and split.ratio == 0.25
    assert [w.message for w in config.warnings] == [
        "lstmcpipe ignored options.test_size and split 50/50; lstflow uses 0.25"
    ]


def test_stage_defined_but_not_run_is_a_warning(write_config: WriteConfig) -> None:
    text = MINIMAL.format(prod_id="extra").replace("[r0_to_dl1, merge_dl1]", "[merge_dl1]")
    config = load_production(write_config(text))
    assert config.stages_to_run == ("merge_dl1",)
    assert [w.format("f") for w in config.warnings] == [
        "f: stages.r0_to_dl1: defined but not in stages_to_run: it will not run "
        "(add it or delete it)"
    ]


def test_plain_venv_environment(write_config: WriteConfig) -> None:
    text = MINIMAL.format(prod_id="venv").replace("  conda_env: lstchain-v0.12.3\n", "")
    text = text.replace("/opt/conda/etc/profile.d/conda.sh", "/opt/venv/bin/activate")
    config = load_production(write_config(text))
    assert config.source_environment.prologue() == (("source", "/opt/venv/bin/activate"),)


def test_environment_variables_expand(write_config: WriteConfig) -> None:
    text = MINIMAL.format(prod_id="portable").replace("/data/", "${LSTFLOW_DATA_ROOT}/")
    path = write_config(text)
    config = load_production(path, environ={"LSTFLOW_DATA_ROOT": "/srv/lst"})
    assert config.entries("r0_to_dl1")[0].input == "/srv/lst/DL0/gamma"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"a: [1\n",
            "invalid YAML: line 2, column 1: while parsing a flow sequence did not "
            "find expected ',' or ']' (close the list with ']' on the same logical line, or "
            "write one '- item' per line)",
        ),
        (
            b"prod_id: a\nprod_id: b\n",
            "invalid YAML: line 2, column 1: duplicate key 'prod_id' (keep one of the two keys "
            "(lstmcpipe refuses duplicates too))",
        ),
        (b"\xff\xfeprod_id", "not UTF-8 text (byte 0) (save the file as UTF-8)"),
        (
            b"- a\n- b\n",
            "expected a mapping of top-level keys, got a list (see "
            "include/production_configs/README.md for the format)",
        ),
        (
            b"a: &a [x,x,x,x,x,x,x,x,x,x]\n"
            + b"".join(
                b"%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n"
                % ((98 + i, 98 + i) + (97 + i,) * 10)
                for i in range(8)
            ),
            "YAML aliases expand to more than 5,000,000 nodes (write the entries out instead "
            "of repeating anchors)",
        ),
    ],
    ids=["syntax", "duplicate-key", "not-utf8", "not-a-mapping", "alias-bomb"],
)
def test_unreadable_documents(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_production(path)
    assert str(caught.value) == f"{path}: {expected}"


def test_parse_cache_hits_and_invalidates(write_config: WriteConfig, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = write_config(MINIMAL.format(prod_id="cached"))
    first = load_production(path, cache_dir=cache)
    [entry] = list(cache.iterdir())
    assert load_production(path, cache_dir=cache) == first
    # A cached config is served without reading the YAML: prove it by corrupting the entry's
    # source only in the cache's eyes (same size and mtime).
    stat = path.stat()
    path.write_text(path.read_text().replace("cached", "xached"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert load_production(path, cache_dir=cache).prod_id == "cached"
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert load_production(path, cache_dir=cache).prod_id == "xached"
    assert len(list(cache.iterdir())) == 2 and entry.exists()


def test_parse_cache_keeps_errors(write_config: WriteConfig, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = write_config(MINIMAL.format(prod_id="bad") + "ouput: x\n")
    for _ in range(2):
        with pytest.raises(ConfigError) as caught:
            load_production(path, cache_dir=cache)
        assert str(caught.value) == f"{path}: unknown key 'ouput' (allowed keys: " + (
            "batch_config, dl1_noise_tune_data_run, dl1_noise_tune_mc_run, dl1_reference_id, "
            "lstmcpipe_version, prod_id, prod_type, slurm_config, source_environment, stages, "
            "stages_to_run, workflow_kind)"
        )


def test_one_bad_file_never_hides_the_others(write_config: WriteConfig, tmp_path: Path) -> None:
    good = write_config(MINIMAL.format(prod_id="good"), subdir="good")
    bad = write_config("prod_id: [\n", subdir="bad")
    library = load_library(tmp_path)
    assert list(library.productions) == ["good"]
    assert library.productions["good"].default.path == good
    assert list(library.errors) == [bad]
