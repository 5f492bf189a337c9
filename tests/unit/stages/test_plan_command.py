"""``lstflow plan --json``: stages, arrays, elements, argv, resources and each value's source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.library_cases import write_shared_prod_id_library

from lstflow.cli import main
from lstflow_dev.testdata import production_samples_dir

pytestmark = pytest.mark.unit


def plan_json(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    status = main(["plan", "--json", "--log-root", "/logs", str(config)])
    return status, json.loads(capsys.readouterr().out)


def resources(stage: dict[str, Any], array: int = 0) -> dict[str, tuple[str, list[str]]]:
    return {
        row["option"]: (row["value"], row["sources"]) for row in stage["arrays"][array]["resources"]
    }


def test_plan_json_of_a_full_production(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    for particle in ("gamma", "proton"):
        (data / "DL0" / particle).mkdir(parents=True)
        for run in (1, 2):
            (data / "DL0" / particle / f"{particle}_run{run}.simtel.zst").touch()
    files = write_shared_prod_id_library(tmp_path / "library", str(data), account="aswg")
    status, document = plan_json(files.full, capsys)
    assert status == 0
    assert document["prod_id"] == "20240131_allsky_base"
    assert document["config"] == str(files.full)
    stages = {stage["stage"]: stage for stage in document["stages"]}
    assert list(stages) == [
        "r0_to_dl1",
        "merge_dl1",
        "train_pipe",
        "plot_rf_feat",
        "dl1_to_dl2",
        "dl2_to_irfs",
    ]
    r0 = stages["r0_to_dl1"]
    assert r0["elements"] == 2 and len(r0["arrays"]) == 1
    assert r0["arrays"][0]["items"][0]["argv"][:3] == ["python", "-m", "lstflow.jobs.batch"]
    # ...but what the element runs, per file, is lstchain
    assert [command[0] for command in r0["arrays"][0]["items"][0]["commands"]] == [
        "lstchain_mc_r0_to_dl1",
        "lstchain_mc_r0_to_dl1",
    ]
    assert r0["files"][0]["path"] == "/logs/20240131_allsky_base/r0_to_dl1/manifests/plan.json"
    assert resources(r0) == {
        "partition": ("long", ["stage default"]),
        "account": ("aswg", ["slurm_config"]),
    }
    assert resources(stages["merge_dl1"]) == {
        "partition": ("long", ["slurm_options (legacy)"]),
        "account": ("aswg", ["slurm_config"]),
    }
    assert resources(stages["train_pipe"]) == {
        "partition": ("xxl", ["extra_slurm_options"]),
        "mem": ("160G", ["extra_slurm_options"]),
        "time": ("03-00:00:00", ["extra_slurm_options"]),
        "cpus-per-task": ("16", ["extra_slurm_options"]),
        "account": ("aswg", ["slurm_config"]),
        "nice": ("10", ["extra_slurm_options"]),
    }
    # the plot job: lstmcpipe's short/16GB, never the training's xxl/160G/16 CPUs/3 days/nice
    plot = stages["plot_rf_feat"]
    assert resources(plot) == {
        "partition": ("short", ["stage default"]),
        "mem": ("16GB", ["stage default"]),
        "account": ("aswg", ["slurm_config"]),
    }
    assert plot["arrays"][0]["items"][0]["argv"] == [
        "python",
        "-m",
        "lstflow.jobs.plot_rf_importance",
        f"{data}/models/dec_2276",
        "-cf",
        str(files.full.parent / "lstchain_config.json"),
    ]
    assert plot["arrays"][0]["items"][0]["outputs"] == [
        f"{data}/models/dec_2276/features_importance.png"
    ]
    assert resources(stages["dl1_to_dl2"])["mem"] == ("60GB", ["extra_slurm_options"])


def test_plan_json_reports_a_stage_it_cannot_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_shared_prod_id_library(tmp_path / "library", str(tmp_path / "nowhere"))
    status, document = plan_json(files.partial, capsys)
    assert status == 1
    r0, merge = document["stages"]
    assert r0["stage"] == "r0_to_dl1"
    assert r0["error"] == (
        f"stages.r0_to_dl1[0]: input directory {tmp_path}/nowhere/DL0/proton does not exist or "
        "cannot be read on the cluster"
    )
    assert resources(merge) == {
        "partition": ("short", ["slurm_options (legacy)"]),
        "mem": ("2G", ["slurm_options (legacy)"]),
    }


SAMPLE = "20240430_v0.10.4_src9_dec3476_tuned"


def sample_config() -> Path:
    (config,) = (production_samples_dir() / SAMPLE).glob("*.yaml")
    return config


def test_plan_of_a_large_production_is_a_summary_per_stage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """64 elements (40 DL0 directories not visible here, --no-inputs): a table, no commands."""
    assert main(["plan", "--no-inputs", str(sample_config())]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:5] == ["stage", "arrays", "elements", "lineage", "groups"]
    rows = {line.split()[0]: line.split()[1:4] for line in lines[2:8]}
    assert rows == {
        "r0_to_dl1": ["?", "?", "1"],
        "train_test_split": ["1", "20", "1"],
        "merge_dl1": ["1", "22", "1"],
        "train_pipe": ["1", "1", "1"],
        "plot_rf_feat": ["1", "1", "1"],
        "dl1_to_dl2": ["1", "20", "1"],
    }
    assert (
        lines[8] == "== lineage: 1 group(s), 104 entries, 40 input(s) from outside the production"
    )
    assert "inputs not listed: 40 dirs" in lines[2]
    assert not any("lstchain_" in line for line in lines)
    assert "--full" in lines[-1]


def test_plan_stage_and_full_print_one_stage_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["plan", "--no-inputs", "--full", "--stage", "merge_dl1", str(sample_config())]) == 0
    )
    out = capsys.readouterr().out
    assert "== merge_dl1: 22 elements in 1 job array(s)" in out
    assert out.count("lstchain_merge_hdf5_files -d ") == 22
    assert "== dl1_to_dl2" not in out and "r0_to_dl1" not in out


def test_plan_names_the_production_stages_for_an_unknown_stage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", "--stage", "merge", str(sample_config())]) == 2
    err = capsys.readouterr().err
    assert "no stage merge in this production" in err
    assert "r0_to_dl1, train_test_split, merge_dl1" in err


def test_plan_without_inputs_counts_them_unknown_never_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, document = plan_json_args(["--no-inputs", str(sample_config())], capsys)
    assert status == 0
    assert document["inputs_listed"] is False
    r0 = document["stages"][0]
    assert r0["stage"] == "r0_to_dl1" and r0["elements"] is None and r0["arrays"] == []
    assert len(r0["unlisted_inputs"]) == 40
    assert document["stages"][2]["elements"] == 22


def test_plan_without_the_data_fails_with_the_no_inputs_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", str(sample_config())]) == 1
    out = capsys.readouterr().out
    assert "== r0_to_dl1: cannot be planned here:" in out
    assert "... and 35 more (--full lists them)" in out
    assert "--no-inputs plans without listing it" in out


def test_plan_full_shows_the_lstchain_commands_of_a_file_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    for particle in ("gamma", "proton"):
        (data / "DL0" / particle).mkdir(parents=True)
        (data / "DL0" / particle / f"{particle}_run1.simtel.zst").touch()
    files = write_shared_prod_id_library(tmp_path / "library", str(data))
    assert main(["plan", "--stage", "r0_to_dl1", str(files.full)]) == 0
    out = capsys.readouterr().out
    assert "through python -m lstflow.jobs.batch:" in out
    assert f"lstchain_mc_r0_to_dl1 --input-file={data}/DL0/gamma/gamma_run1.simtel.zst" in out


def test_plan_into_a_closed_pipe_prints_no_traceback() -> None:
    """``lstflow plan ... | head``: the reader leaves early; no BrokenPipeError traceback."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lstflow.cli",
            "plan",
            "--full",
            "--no-inputs",
            str(sample_config()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def plan_json_args(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    status = main(["plan", "--json", "--log-root", "/logs", *args])
    return status, json.loads(capsys.readouterr().out)
