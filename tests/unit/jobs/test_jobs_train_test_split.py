"""The split is planned once, then applied; reruns finish or no-op instead of re-splitting."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lstflow.jobs import train_test_split as tts
from lstflow.jobs.common import JobError

pytestmark = pytest.mark.unit


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    source = tmp_path / "dl1"
    source.mkdir()
    for i in range(7):
        (source / f"dl1_run{i}.h5").write_text(str(i))
    (source / "notes.txt").write_text("not a DL1 file")
    return {
        "in": source,
        "train": tmp_path / "split" / "train",
        "test": tmp_path / "split" / "test",
    }


def _main(dirs: dict[str, Path], *extra: str) -> int:
    argv = ["-i", str(dirs["in"]), "--otrain", str(dirs["train"]), "--otest", str(dirs["test"])]
    return tts.main([*argv, *extra])


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.h5"))


def test_choose_split_is_deterministic_and_sized_like_sklearn() -> None:
    names = [f"f{i}.h5" for i in range(10)]
    train, test = tts.choose_split(names, 0.25, seed=42)
    assert (len(train), len(test)) == (7, 3)  # ceil(0.25 * 10) to test
    assert sorted(train + test) == sorted(names)
    assert tts.choose_split(list(reversed(names)), 0.25, seed=42) == (train, test)
    assert tts.choose_split(names, 0.25, seed=7) != (train, test)


@pytest.mark.parametrize("ratio", [0.0, 1.0, 1.5])
def test_ratio_outside_zero_one_is_rejected(ratio: float) -> None:
    with pytest.raises(JobError, match="test ratio must be between 0 and 1"):
        tts.choose_split(["a.h5", "b.h5"], ratio, seed=42)


def test_split_moves_per_plan_and_writes_lists(dirs: dict[str, Path]) -> None:
    assert _main(dirs, "-r", "0.4") == 0
    plan = json.loads((dirs["test"].parent / tts.PLAN_NAME).read_text())
    assert _names(dirs["train"]) == sorted(plan["train"])
    assert _names(dirs["test"]) == sorted(plan["test"])
    assert (len(plan["train"]), len(plan["test"])) == (4, 3)
    assert _names(dirs["in"]) == []
    assert (dirs["in"] / "notes.txt").exists()
    testing = (dirs["test"].parent / "testing.list").read_text().split()
    assert testing == [str(dirs["test"] / n) for n in sorted(plan["test"])]
    training = (dirs["test"].parent / "training.list").read_text().split()
    assert training == [str(dirs["train"] / n) for n in sorted(plan["train"])]


def test_rerun_after_completion_is_a_no_op(
    dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(dirs) == 0
    before = (_names(dirs["train"]), _names(dirs["test"]))
    assert _main(dirs) == 0
    assert (_names(dirs["train"]), _names(dirs["test"])) == before
    assert capsys.readouterr().out.splitlines()[-1].endswith(", 0 moved now")


def test_rerun_after_a_crash_finishes_the_same_split(dirs: dict[str, Path]) -> None:
    assert _main(dirs) == 0
    plan = tts.read_plan(dirs["test"].parent / tts.PLAN_NAME)
    # simulate a crash after the plan and one move: put all but one file back
    for name, destination in plan.destinations()[1:]:
        shutil.move(destination / name, dirs["in"] / name)
    assert _main(dirs) == 0
    assert _names(dirs["train"]) == sorted(plan.train)
    assert _names(dirs["test"]) == sorted(plan.test)


def test_a_different_request_does_not_reuse_the_plan(
    dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(dirs) == 0
    assert _main(dirs, "-r", "0.3") == 1
    assert "was made for a different split" in capsys.readouterr().err


def test_empty_input_without_plan_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    dirs = {"in": tmp_path / "empty", "train": tmp_path / "tr", "test": tmp_path / "te"}
    assert _main(dirs) == 1
    assert "no *.h5 files in" in capsys.readouterr().err
