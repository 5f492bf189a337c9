"""``lstflow plan --json``: stages, arrays, elements, argv, resources and each value's source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.library_cases import write_shared_prod_id_library

from lstflow.cli import main

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
