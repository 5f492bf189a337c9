"""The night status view (lstosa's sequencer table) as text and JSON."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lstflow.onsite.plan import plan_night
from lstflow.onsite.settings import OnsiteSettings, build_version
from lstflow.onsite.status import (
    Accounting,
    JobHistory,
    OutputCounts,
    RunProgress,
    aggregate_state,
    count_outputs,
    night_progress,
    status_json,
    status_table,
)
from lstflow_dev.local_onsite_files import local_night_files

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["COMPLETED", "COMPLETED"], "COMPLETED"),
        (["PENDING", "PENDING"], "PENDING"),
        (["COMPLETED", "FAILED", "RUNNING"], "FAILED"),
        (["CANCELLED by 1000", "TIMEOUT"], "CANCELLED"),
        (["COMPLETED", "TIMEOUT", "RUNNING"], "TIMEOUT"),
        (["COMPLETED", "RUNNING", "PENDING"], "RUNNING"),
        (["COMPLETED", "PENDING"], "UNKNOWN"),
        ([], "NOT_SUBMITTED"),
    ],
)
def test_array_state_follows_lstosa_precedence(states: list[str], expected: str) -> None:
    assert aggregate_state(states) == expected


ROWS = [
    RunProgress(1806, "PEDCALIB", 1, "", ["2001"], ["COMPLETED"], accounting=Accounting(90, "0:0")),
    RunProgress(
        1807,
        "DATA",
        4,
        "Crab",
        ["2002_1", "2010_0", "2002_0"],
        ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED"],
        OutputCounts(dl1=4, muons=4, dl1ab=3, datacheck=2, dl2=0),
        seq=2,
        parent=1,
        accounting=Accounting(90061, "1:0"),
        catb="COMPLETED",
    ),
]


def test_text_table() -> None:
    lines = status_table("2020-01-17", "v0.12.3", ROWS).splitlines()
    assert lines[0] == "Night 2020-01-17  prod_id v0.12.3"
    assert [line.split() for line in lines[1:]] == [
        ["Seq", "Parent", "Type", "Run", "Subruns", "Source", "Action", "Tries", "JobID", "State",
         "CPU_time", "Exit", "DL1%", "MUONS%", "CAT-B", "DL1AB%", "DATACHECK%", "DL2%"],
        ["1", "-", "PEDCALIB", "1806", "1", "-", "Check", "1", "2001", "COMPLETED", "00:01:30",
         "0:0", "-", "-", "-", "-", "-", "-"],
        ["2", "1", "DATA", "1807", "4", "Crab", "Check", "2", "2010", "FAILED", "1-01:01:01",
         "1:0", "100", "100", "COMPLETED", "75", "50", "0"],
    ]  # fmt: skip


def test_json_view() -> None:
    data = json.loads(json.dumps(status_json("2020-01-17", "v0.12.3", ROWS)))
    assert data["simulate"] is False
    assert data["runs"][1] == {
        "seq": 2,
        "parent": 1,
        "type": "DATA",
        "run": 1807,
        "subruns": 4,
        "source": "Crab",
        "calibration_night": None,
        "action": "Check",
        "tries": 2,
        "job_id": "2010",
        "state": "FAILED",
        "cpu_time": "1-01:01:01",
        "exit": "1:0",
        "dl1_pct": 100,
        "muons_pct": 100,
        "catb": "COMPLETED",
        "dl1ab_pct": 75,
        "datacheck_pct": 50,
        "dl2_pct": 0,
    }


def test_a_calibration_run_of_an_earlier_night_not_built_here_is_borrowed() -> None:
    borrowed = RunProgress(1806, "PEDCALIB", 1, borrowed_from=dt.date(2020, 1, 17))
    built_here = RunProgress(
        1806, "PEDCALIB", 1, "", ["2001"], ["COMPLETED"], borrowed_from=dt.date(2020, 1, 17)
    )
    rows = status_json("2020-01-18", "v0.12.4", [borrowed, built_here])["runs"]
    assert [(row["state"], row["calibration_night"]) for row in rows] == [
        ("BORROWED", "2020-01-17"),
        ("COMPLETED", "2020-01-17"),
    ]


def test_progress_counts_output_files_on_disk(settings: OnsiteSettings) -> None:
    plan = plan_night(settings, dt.date(2020, 1, 17), build_version(settings), local_night_files())
    dl1 = plan.paths.dl1_dir
    for name in (
        "dl1_LST-1.Run01807.0000.h5",
        "dl1_LST-1.Run01807.0001.h5",
        "muons_LST-1.Run01807.0001.fits",
        "tailcut84/dl1_LST-1.Run01807.0000.h5",
        "tailcut84/dl1_LST-1.Run01807.h5",
        "tailcut84/datacheck/datacheck_dl1_LST-1.Run01807.0000.h5",
        "dl1_LST-1.Run01808.0000.h5",
    ):
        (dl1 / name).parent.mkdir(parents=True, exist_ok=True)
        (dl1 / name).touch()
    dl2 = plan.paths.dl2_dir / "tailcut84/nsb_tuning_0.07/dl2_LST-1.Run01807.h5"
    dl2.parent.mkdir(parents=True)
    dl2.touch()
    assert count_outputs(local_night_files(), plan.paths, 1807) == OutputCounts(
        dl1=2, muons=1, dl1ab=1, datacheck=1, dl2=1
    )
    rows = night_progress(
        plan, {1807: JobHistory(["31_0", "31_1", "31_2"], ["RUNNING"] * 3)}, local_night_files()
    )
    assert [(r.run_id, r.run_type, r.subruns) for r in rows] == [
        (1806, "PEDCALIB", 1),
        (1807, "DATA", 3),
        (1808, "DATA", 2),
    ]
    line_1807 = status_table("2020-01-17", "v0.12.3", rows).splitlines()[3]
    assert line_1807.split() == [
        "2", "1", "DATA", "1807", "3", "Crab", "Check", "1", "31", "RUNNING", "-", "-",
        "67", "33", "-", "33", "33", "100",
    ]  # fmt: skip
