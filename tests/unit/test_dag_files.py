"""``lstflow dags write``: the deployment's DAG files are the checkout's ``dags/``, written
without clobbering a site's own edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstflow.cli import main
from lstflow.commands.dag_files import DAG_FILES

pytestmark = pytest.mark.unit

CHECKOUT_DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_checkout_dags_folder_holds_exactly_the_written_files() -> None:
    assert {path.name: path.read_text() for path in CHECKOUT_DAGS.glob("*.py")} == DAG_FILES


def test_write_into_an_empty_folder_then_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "dags"
    assert main(["dags", "write", str(folder)]) == 0
    assert {path.name: path.read_text() for path in folder.iterdir()} == DAG_FILES
    assert main(["dags", "write", str(folder)]) == 0
    assert capsys.readouterr().out.endswith(f"3 DAG files in {folder} (0 written)\n")


def test_a_differing_file_is_kept_unless_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = tmp_path / "lstflow_nightly.py"
    edited.write_text("# a site's own nightly DAG\n")
    assert main(["dags", "write", str(tmp_path)]) == 1
    assert f"refusing to replace {edited}" in capsys.readouterr().err
    assert edited.read_text() == "# a site's own nightly DAG\n"
    assert not (tmp_path / "lstflow_productions.py").exists()  # nothing written on refusal
    assert main(["dags", "write", "--overwrite", str(tmp_path)]) == 0
    assert edited.read_text() == DAG_FILES["lstflow_nightly.py"]
