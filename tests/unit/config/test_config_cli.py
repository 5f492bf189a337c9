"""``lstflow validate`` and ``lstflow productions list``: exit codes, text and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from config_helpers import MINIMAL, WriteConfig

from lstflow.cli import main

pytestmark = pytest.mark.unit


def test_validate_samples_exit_0_with_lstchain_reader(
    samples_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(samples_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok: ") == 3
    assert out.endswith("3 config(s) checked, 0 with errors, 3 production(s)\n")


def test_validate_json_report_and_exit_1(
    write_config: WriteConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_config(MINIMAL.format(prod_id="good"), subdir="good")
    bad = write_config(MINIMAL.format(prod_id="bad") + "ouput: x\n", subdir="nested/bad")
    assert main(["validate", "--json", "--no-lstchain", str(tmp_path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    by_path = {file["path"]: file for file in report["files"]}
    assert by_path[str(good)]["ok"] is True and by_path[str(good)]["entries"] == 2
    [error] = by_path[str(bad)]["errors"]
    assert error["path"] == "" and error["message"] == "unknown key 'ouput'"
    assert error["text"].startswith(f"{bad}: unknown key 'ouput' (allowed keys: ")


def test_validate_reports_lstchain_reader_error(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON that parses but that lstchain cannot use fails (lstmcpipe's CI ignored this)."""
    path = write_config(MINIMAL.format(prod_id="extractor"))
    (path.parent / "lstchain_config.json").write_text('{"image_extractor": "NoSuchExtractor"}')
    assert main(["validate", str(path)]) == 1
    assert (
        f"error: {path}: lstchain_config: lstchain_config.json: no "
        "'NoSuchExtractor.apply_integration_correction' for the image_extractor "
        "'NoSuchExtractor' (start from 'lstchain_dump_config --mc' and keep the extractor's "
        "block)"
    ) in capsys.readouterr().out.splitlines()


def test_validate_missing_path_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 1
    assert f"error: {tmp_path / 'nope.yaml'}: no such file or directory" in capsys.readouterr().out


def test_productions_list(samples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["productions", "list", "--json", str(samples_dir)]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["errors"] == []
    [first, *_] = listing["productions"]
    assert first["prod_id"] == "20240122_v0.10.4_prod5_trans80"
    assert first["stages"]["dl2_to_sensitivity"] == 2
    assert first["environment"] == "lstchain-v0.10.7"
    assert first["readme"] == "20240122_v0.10.4_prod5_trans80"
    assert main(["productions", "list", str(samples_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PROD_ID", "STAGES", "(entries)", "ENVIRONMENT", "README"]
    assert lines[2].split()[0] == "20240430_v0.10.4_src9_dec3476_tuned"
    assert lines[2].endswith("lstchain-v0.10.7  New Product Configuration for src9")


def test_productions_list_without_the_site_variables_lists_the_library(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh shell has no ${LSTFLOW_DATA_ROOT}: the demo library is still listed, paths as
    written, with a note saying where a run takes the values from."""
    monkeypatch.delenv("LSTFLOW_DATA_ROOT", raising=False)
    monkeypatch.delenv("LSTFLOW_ANALYSIS_ENV", raising=False)
    library = Path(__file__).resolve().parents[3] / "include" / "production_configs"
    assert main(["productions", "list", str(library)]) == 0
    captured = capsys.readouterr()
    prod_ids = [line.split()[0] for line in captured.out.splitlines()[1:]]
    assert prod_ids == ["lstflow_demo_analysis", "lstflow_demo_dl1", "lstflow_demo_dl1ab"]
    assert "${LSTFLOW_ANALYSIS_ENV}/bin/activate" in captured.out
    assert "note: ${LSTFLOW_DATA_ROOT} is not set here" in captured.err
    assert "[lstflow] config_variables in airflow.cfg" in captured.err


BAD_ENTRIES = """\
workflow_kind: lstchain
prod_id: located
source_environment:
  source_file: /a
stages_to_run: [merge_dl1]
stages:
  merge_dl1:
  - input: /data/DL1/gamma
    output: /data/m.h5
    options: --no-imag
  - input: /data/DL1/proton
    ouput: /data/p.h5
"""


def test_validate_locates_every_problem_by_line_and_column(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(BAD_ENTRIES)
    assert main(["validate", "--no-lstchain", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"error: {path}:10:5: stages.merge_dl1[0].options: unknown option")
    assert lines[1] == (
        f"error: {path}:12:5: stages.merge_dl1[1]: unknown key 'ouput' (did you mean 'output'?)"
    )
    assert main(["validate", "--format", "json", "--no-lstchain", str(path)]) == 1
    [file] = json.loads(capsys.readouterr().out)["files"]
    assert [(e["path"], e["line"], e["column"]) for e in file["errors"]] == [
        ("stages.merge_dl1[0].options", 10, 5),
        ("stages.merge_dl1[1]", 12, 5),
        ("stages.merge_dl1[1]", 11, 5),
    ]


def test_validate_github_format_annotates_the_lines(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(BAD_ENTRIES)
    assert main(["validate", "--format", "github", "--no-lstchain", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    escaped = str(path).replace(":", "%3A").replace(",", "%2C")
    assert lines[1] == (
        f"::error file={escaped},line=12,col=5,title=stages.merge_dl1[1]::unknown key 'ouput' "
        "(did you mean 'output'?)"
    )
    assert lines[-1] == "1 config(s) checked, 1 with errors"


def test_a_yaml_syntax_error_has_its_position_and_a_fix(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config("prod_id: x\nsource_environment:\n\tsource_file: /a\n")
    assert main(["validate", "--json", "--no-lstchain", str(path)]) == 1
    [file] = json.loads(capsys.readouterr().out)["files"]
    [error] = file["errors"]
    assert (error["line"], error["column"]) == (3, 1)
    assert error["fix"] == "indent with spaces: YAML does not allow tabs"
