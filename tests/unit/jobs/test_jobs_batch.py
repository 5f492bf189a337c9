"""The batch runner's retry, skip and failure handling, with real (small) subprocesses.

The e2e module runs it on real lstchain; here a tiny script stands in for the tool so each
outcome (success, flaky, always failing, partial output) is produced on purpose.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lstflow.jobs import batch
from lstflow.jobs.batch_manifest import BatchManifest, FileTask

pytestmark = pytest.mark.unit

TOOL = """
import sys
from pathlib import Path
output, mode, counter = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
calls = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(calls))
print(f"tool call {calls} mode {mode}")
if mode == "ok" or (mode == "flaky" and calls > 1):
    output.write_text("complete")
    sys.exit(0)
output.write_text("partial")
print("tool failed on purpose", file=sys.stderr)
sys.exit(3)
"""


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    tool = tmp_path / "tool.py"
    tool.write_text(TOOL)
    return {
        "tool": tool,
        "out": tmp_path / "out",
        "logs": tmp_path / "logs",
        "failed": tmp_path / "failed_outputs",
        "calls": tmp_path / "calls",
        "manifest": tmp_path / "manifest.json",
    }


def _task(layout: dict[str, Path], name: str, mode: str) -> FileTask:
    layout["calls"].mkdir(exist_ok=True)
    output = layout["out"] / f"{name}.h5"
    argv = (sys.executable, str(layout["tool"]), str(output), mode, str(layout["calls"] / name))
    return FileTask(argv, str(output))


def _run(layout: dict[str, Path], tasks: list[FileTask], *extra: str) -> int:
    BatchManifest((tuple(tasks),)).write(layout["manifest"], overwrite=True)
    return batch.main(
        [
            str(layout["manifest"]),
            "--element",
            "0",
            "--log-dir",
            str(layout["logs"]),
            "--failed-outputs-dir",
            str(layout["failed"]),
            *extra,
        ]
    )


def _calls(layout: dict[str, Path], name: str) -> int:
    return int((layout["calls"] / name).read_text())


def test_failing_file_is_retried_set_aside_and_does_not_stop_the_batch(
    layout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = [_task(layout, "a", "ok"), _task(layout, "bad", "fail"), _task(layout, "c", "ok")]
    assert _run(layout, tasks) == 1
    assert (layout["out"] / "a.h5").read_text() == "complete"
    assert (layout["out"] / "c.h5").read_text() == "complete"
    assert not (layout["out"] / "bad.h5").exists()
    assert _calls(layout, "bad") == 2
    moved = sorted(layout["failed"].iterdir())
    assert [p.name.split(".")[0] for p in moved] == ["bad", "bad"]
    assert {p.name.rsplit(".", 1)[1] for p in moved} == {"try1", "try2"}
    assert all(p.read_text() == "partial" for p in moved)
    log = (layout["logs"] / "bad.h5.log").read_text()
    assert log.count("tool failed on purpose") == 2
    assert "=== try 2/2" in log and "exit code 3" in log
    err = capsys.readouterr().err
    assert "2 done, 0 skipped (output exists), 1 failed" in err
    assert f"log: {layout['logs'] / 'bad.h5.log'}" in err
    assert str(layout["failed"]) in err
    assert not list(layout["logs"].glob("*.running"))


def test_second_try_success_counts_as_done(layout: dict[str, Path]) -> None:
    assert _run(layout, [_task(layout, "flaky", "flaky")]) == 0
    assert (layout["out"] / "flaky.h5").read_text() == "complete"
    assert _calls(layout, "flaky") == 2
    assert len(list(layout["failed"].iterdir())) == 1


def test_existing_outputs_are_skipped_unless_overwrite(
    layout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    task = _task(layout, "a", "ok")
    assert _run(layout, [task]) == 0
    assert _run(layout, [task]) == 0
    assert _calls(layout, "a") == 1
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert _run(layout, [task], "--overwrite") == 0
    assert _calls(layout, "a") == 2


def test_output_left_by_an_interrupted_run_is_redone(layout: dict[str, Path]) -> None:
    task = _task(layout, "a", "ok")
    layout["out"].mkdir()
    layout["logs"].mkdir()
    Path(task.output).write_text("partial from a killed job")
    (layout["logs"] / "a.h5.running").touch()
    assert _run(layout, [task]) == 0
    assert Path(task.output).read_text() == "complete"
    (moved,) = layout["failed"].iterdir()
    assert moved.name.endswith(".interrupted")
    assert moved.read_text() == "partial from a killed job"


def test_set_aside_never_overwrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "_timestamp", lambda: "T")
    for content in ("first", "second"):
        partial = tmp_path / "x.h5"
        partial.write_text(content)
        batch.set_aside(partial, tmp_path / "failed", "try1")
    assert {p.name: p.read_text() for p in (tmp_path / "failed").iterdir()} == {
        "x.h5.T.try1": "first",
        "x.h5.T.try1.1": "second",
    }


def test_element_defaults_to_slurm_array_task_id(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = BatchManifest(((_task(layout, "a", "ok"),), (_task(layout, "b", "ok"),)))
    manifest.write(layout["manifest"])
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    argv = [str(layout["manifest"]), "--log-dir", str(layout["logs"])]
    assert batch.main([*argv, "--failed-outputs-dir", str(layout["failed"])]) == 0
    assert (layout["out"] / "b.h5").exists()
    assert not (layout["out"] / "a.h5").exists()


def test_missing_element_index_is_a_clear_error(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    BatchManifest(((_task(layout, "a", "ok"),),)).write(layout["manifest"])
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID", raising=False)
    argv = [str(layout["manifest"]), "--log-dir", "l", "--failed-outputs-dir", "f"]
    assert batch.main(argv) == 1
    assert "no --element given and SLURM_ARRAY_TASK_ID" in capsys.readouterr().err
