"""Failure reports are bounded in bytes, whatever the jobs wrote (#15.6)."""

from __future__ import annotations

import json

import pytest

from lstflow.slurm.reports import (
    MAX_FAILED_ROWS,
    MAX_REPORT_BYTES,
    STDERR_TAIL_BYTES,
    TEXT_BYTES,
    FailedElement,
    SlurmReport,
)

pytestmark = pytest.mark.unit

HUGE = 20 * 1024 * 1024


def failed(index: int, stderr: str = "", command: str = "lstchain_x") -> FailedElement:
    return FailedElement(
        element=f"7_{index}",
        key=f"stage.{index}",
        state="FAILED",
        exit_code=1,
        signal=0,
        attempts=3,
        command=command,
        stderr_log=f"/logs/stage_7_{index}.err",
        stderr_tail=stderr,
    )


def test_a_20_mb_stderr_line_keeps_only_its_end() -> None:
    row = failed(0, "x" * HUGE + "Traceback: the real error é")
    assert len(row.stderr_tail.encode()) <= STDERR_TAIL_BYTES
    assert row.stderr_tail.endswith("the real error é")
    assert row.stderr_tail.startswith(f"[{HUGE + 28:,} bytes, the first ones cut]")


def test_long_texts_keep_their_start_within_the_cap() -> None:
    row = failed(0, command="lstchain_x " + "é" * HUGE)
    assert len(row.command.encode()) <= TEXT_BYTES
    assert row.command.startswith("lstchain_x éé") and row.command.endswith("ones cut]")
    assert failed(1, "short").stderr_tail == "short"


def test_a_report_lists_at_most_max_failed_rows_and_counts_the_rest() -> None:
    long = "c" * (4 * TEXT_BYTES)
    rows = tuple(failed(i, long if i == 0 else "boom", long) for i in range(5000))
    report = SlurmReport("stage", total=5000, completed=0, job_ids=("7",), failed=rows)
    assert len(report.failed) == MAX_FAILED_ROWS
    assert report.omitted == 5000 - MAX_FAILED_ROWS and report.failure_count == 5000
    stored = report.to_json()
    assert len(json.dumps(stored)) < MAX_REPORT_BYTES
    assert SlurmReport.from_json(stored) == report  # reading back neither loses nor adds rows
    summary = report.summary()
    assert summary.startswith("7_0 FAILED exit 1; 7_1 FAILED exit 1")
    assert summary.endswith(f"; and {5000 - 10} more") and len(summary) < 1000


def test_a_report_at_every_cap_stays_under_max_report_bytes() -> None:
    text = "é" * (1024 * 1024)
    worst = FailedElement(
        element="7_0", key=text, state=text, exit_code=1, signal=9, attempts=3, command=text,
        stdout_log=text, stderr_log=text, stderr_tail=text, note=text,
    )  # fmt: skip
    report = SlurmReport("stage", 10**6, 0, ("1",) * 100, (worst,) * (MAX_FAILED_ROWS + 1))
    assert len(json.dumps(report.to_json())) < MAX_REPORT_BYTES
