"""``make demo``'s console: progress lines per stage, and every byte of output in the log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lstflow.ui.progress import StageProgress
from lstflow_dev.demo_console import display_phase, output_to_log, progress_line

pytestmark = pytest.mark.unit


def test_progress_lines_show_a_bar_and_counts() -> None:
    running = StageProgress("r0_to_dl1", "deferred", total=4, done=1, failed=1, in_slurm=2)
    assert progress_line(running) == (
        "  r0_to_dl1            [#####---------------]  1/4 done, 1 failed, 2 in Slurm  (running)"
    )
    done = StageProgress("merge_dl1", "success", total=2, done=2)
    assert progress_line(done) == (
        "  merge_dl1            [####################]  2/2 done  (success)"
    )
    provenance = StageProgress("provenance", "success")
    assert progress_line(provenance).endswith("no Slurm work  (success)")


def test_waiting_tasks_are_not_shown_and_deferred_ones_run() -> None:
    assert [display_phase(s) for s in (None, "scheduled", "queued")] == [None, None, None]
    assert display_phase("deferred") == display_phase("up_for_retry") == "running"
    assert display_phase("upstream_failed") == "upstream_failed"


def test_everything_written_goes_to_the_log_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "logs" / "demo.log"
    with output_to_log(log):
        print("from python")
        print("to stderr", file=sys.stderr)
        subprocess.run(["sh", "-c", "echo from a subprocess; echo its stderr >&2"], check=True)
    print("after")
    assert log.read_text().splitlines() == [
        "from python",
        "to stderr",
        "from a subprocess",
        "its stderr",
    ]
    assert capfd.readouterr().out == "after\n"
