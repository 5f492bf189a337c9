"""Configs sharing a prod_id are parts of one production: grouping, the default rule, the
union of stages, and the library cases of ../shared/data that lstflow used to reject."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from config_helpers import MINIMAL, sample_data_root
from support.library_cases import (
    LATER_PROD_ID,
    LEGACY_2022,
    SHARED_PROD_ID,
    write_shared_prod_id_library,
)

from lstflow.cli import main
from lstflow.config import load_library
from lstflow.config.parts import default_part

pytestmark = pytest.mark.unit

CASES = sample_data_root() / "lstmcpipe_library_cases"


def test_three_configs_across_two_directories_make_one_production(tmp_path: Path) -> None:
    files = write_shared_prod_id_library(tmp_path, "/data")
    library = load_library(tmp_path)
    assert library.errors == {}
    assert sorted(library.productions) == [SHARED_PROD_ID, LATER_PROD_ID]
    parts = library.productions[SHARED_PROD_ID]
    assert [config.path for config in parts.configs] == [
        files.full,
        files.partial,
        files.merge_restart,
    ]
    assert parts.default.path == files.full  # its stages cover the others'
    assert parts.labels == (
        f"{SHARED_PROD_ID}/lstmcpipe_config_2024-01-31_PathConfigAllSkyFull.yaml",
        f"{SHARED_PROD_ID}/lstmcpipe_config_2024-01-31_PathConfigAllSkyFull_rerun_proton.yaml",
        "20240918_allsky_nsb_grid/NSB-0.38/merge_restart.yml",
    )
    assert parts.find(files.label(files.merge_restart)).stages_to_run == ("merge_dl1",)
    assert parts.stages_to_run == (
        "r0_to_dl1",
        "merge_dl1",
        "train_pipe",
        "dl1_to_dl2",
        "dl2_to_irfs",
    )
    with pytest.raises(LookupError, match=r"has no config 'nope\.yaml' \(choices: "):
        parts.find("nope.yaml")


def test_default_without_a_covering_config_is_the_alphabetically_first(tmp_path: Path) -> None:
    files = write_shared_prod_id_library(tmp_path, "/data")
    library = load_library(tmp_path)
    parts = library.productions[SHARED_PROD_ID]
    without_full = [config for config in parts.configs if config.path != files.full]
    # rerun_proton (r0_to_dl1, merge_dl1) covers merge_restart (merge_dl1)
    assert default_part(without_full, tmp_path).path == files.partial
    # neither covers the other: the first label wins
    restart, partial = (
        parts.find(files.label(files.merge_restart)),
        parts.find(files.label(files.partial)),
    )
    full = parts.find(files.label(files.full))
    assert default_part([restart, full, partial], tmp_path).path == files.full
    first = MINIMAL.format(prod_id="p").replace("[r0_to_dl1, merge_dl1]", "[r0_to_dl1]")
    second = MINIMAL.format(prod_id="p").replace("[r0_to_dl1, merge_dl1]", "[merge_dl1]")
    for name, text in (("b.yaml", first), ("a.yaml", second)):
        (tmp_path / "p").mkdir(exist_ok=True)
        (tmp_path / "p" / "lstchain_config.json").write_text("{}")
        (tmp_path / "p" / name).write_text(text)
    assert load_library(tmp_path / "p").productions["p"].default.path.name == "a.yaml"


def test_validate_passes_the_library_and_names_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_shared_prod_id_library(tmp_path, "/data")
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "lstchain_config.json").write_text("{}")
    (tmp_path / "legacy" / "lstmcpipe_config.yaml").write_text(LEGACY_2022)
    assert main(["validate", "--no-lstchain", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"production {SHARED_PROD_ID}: 3 configs, one DAG (default config: {files.full})" in (
        out
    )
    assert out.endswith("5 config(s) checked, 0 with errors, 3 production(s)\n")
    assert main(["validate", "--no-lstchain", "--json", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    (shared,) = [p for p in report["productions"] if p["prod_id"] == SHARED_PROD_ID]
    assert shared["default"] == str(files.full)
    assert len(shared["configs"]) == 3


def test_productions_list_shows_each_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_shared_prod_id_library(tmp_path, "/data")
    assert main(["productions", "list", "--json", str(tmp_path)]) == 0
    rows = json.loads(capsys.readouterr().out)["productions"]
    shared = [(r["config"], r["default"]) for r in rows if r["prod_id"] == SHARED_PROD_ID]
    assert shared == [
        (files.label(files.full), True),
        (files.label(files.partial), False),
        (files.label(files.merge_restart), False),
    ]


@pytest.mark.parametrize("case", ["20220523_allsky_std", "20240131_allsky_v0.10.5_all_dec_base"])
def test_the_real_library_cases_validate(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--no-lstchain", str(CASES / case)]) == 0
    assert ", 0 with errors, 1 production(s)" in capsys.readouterr().out


def test_the_real_follow_up_config_is_a_part_of_its_production() -> None:
    library = load_library(CASES)
    assert library.errors == {}
    parts = library.productions["20240131_allsky_v0.10.5_all_dec_base"]
    assert [config.path.name for config in parts.configs] == [
        "lstmcpipe_config_2024-01-31_PathConfigAllSkyFull.yaml",
        "lstmcpipe_config_2024-01-31_PathConfigAllSkyFull_fix_dl1_dl2.yaml",
    ]
    assert parts.default.path.name == "lstmcpipe_config_2024-01-31_PathConfigAllSkyFull.yaml"
    fix = parts.configs[1]
    assert fix.stages_to_run == ("dl1_to_dl2",)
    assert fix.entries("dl1_to_dl2")[0].extra_slurm_options == (("mem", "100GB"),)
