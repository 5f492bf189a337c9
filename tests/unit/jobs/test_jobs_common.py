"""Atomic outputs: readers see no file or the whole file, and nothing is replaced by accident."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstflow.jobs.common import JobError, atomic_output, job_main, write_text_atomic

pytestmark = pytest.mark.unit


def test_atomic_output_appears_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.fits.gz"
    with atomic_output(target) as tmp:
        assert tmp.parent == target.parent
        assert tmp.name.endswith(".fits.gz")
        tmp.write_text("data")
        assert not target.exists()
    assert target.read_text() == "data"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.fits.gz"]


def test_existing_output_is_refused_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(JobError, match="already exists; pass --overwrite"):
        write_text_atomic(target, "new")
    assert target.read_text() == "old"
    write_text_atomic(target, "new", overwrite=True)
    assert target.read_text() == "new"


def test_failed_write_leaves_neither_target_nor_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer crashed")
    assert list(tmp_path.iterdir()) == []


def test_job_main_turns_job_errors_into_exit_code_and_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @job_main("demo")
    def main(argv: object = None) -> int:
        raise JobError("input X is missing")

    assert main([]) == 1
    assert capsys.readouterr().err == "demo: error: input X is missing\n"
