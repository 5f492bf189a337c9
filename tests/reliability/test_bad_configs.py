"""A library of 300+ malformed production configs beside good ones, loaded three ways:
``lstflow validate --json``, a real DagBag of the ``dags/`` folder, and a real
``airflow dag-processor`` process. Every bad file gives an error naming the file and the key;
the good productions and an unrelated DAG file still load; nothing crashes. DAGs are built from
the configs' headers, so a bad config whose problems are all inside its stage entries gets a
DAG too (its stages fail when they run) while still being reported as an error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from corpus import Library, build_library, describe, entry_only_prod_ids
from support.airflow_stack import AirflowStack

from lstflow.productions.dag_factory import INVALID_DAG_ID
from lstflow.productions.naming import dag_id_for

pytestmark = pytest.mark.reliability

CHECKOUT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = CHECKOUT / "dags"
ERRORS_FILE = "lstflow_config_errors.py"
OTHER_DAG = """\
from datetime import datetime

from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("unrelated_dag", schedule=None, start_date=datetime(2026, 1, 1)):
    EmptyOperator(task_id="nothing")
"""
MIN_CASES = 200
VALIDATE = (sys.executable, "-m", "lstflow.cli", "validate", "--json", "--no-lstchain")
# dags/ also holds the nightly DAG, which no production config affects.
NIGHTLY = {"lstflow_nightly"}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    built = build_library(tmp_path_factory.mktemp("corpus") / "library")
    assert len(built.bad) >= MIN_CASES, describe(built)
    return built


def names_file_and_key(text: str, path: Path, key: str) -> bool:
    """``text`` is one error line ``<file>: <yaml path>: <message>`` naming ``key``.

    ``key == ""`` is a problem of the whole file (bad YAML, encoding, size): the error must
    then sit on the document itself, right after the file name.
    """
    prefix = f"{path}: "
    if not text.startswith(prefix):
        return False
    rest = text[len(prefix) :]
    return key in rest if key else not rest.startswith("stages")


def missing_errors(library: Library, lines_by_file: dict[Path, list[str]]) -> dict[str, str]:
    """``{case: what was seen}`` for every bad config without an error naming file and key."""
    missing = {}
    for path, case in library.bad.items():
        lines = lines_by_file.get(path, [])
        if not any(names_file_and_key(line, path, case.key) for line in lines):
            missing[case.name] = f"wanted key {case.key!r}, got {lines[:3]}"
    return missing


def test_validate_json_names_file_and_key_of_every_bad_config(library: Library) -> None:
    result = subprocess.run(
        [*VALIDATE, str(library.root)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=CHECKOUT,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    files = {Path(file["path"]): file for file in report["files"]}
    assert set(files) == set(library.bad) | set(library.good)

    lines = {path: [e["text"] for e in file["errors"]] for path, file in files.items()}
    assert missing_errors(library, lines) == {}
    assert not any(files[path]["ok"] for path in library.bad)
    for path, prod_id in library.good.items():
        assert files[path]["ok"], files[path]["errors"]
        assert files[path]["prod_id"] == prod_id


def expected_dag_ids(library: Library) -> set[str]:
    """The good productions, the bad configs with a valid header, and the nightly DAG."""
    prod_ids = {*library.good.values(), *entry_only_prod_ids(library).values()}
    return {dag_id_for(prod_id) for prod_id in prod_ids} | NIGHTLY


@pytest.fixture
def library_in_airflow(library: Library, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(library.root))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PARSE_CACHE_DIR", str(tmp_path / "parse-cache"))
    return tmp_path / "parse-cache"


def test_dagbag_loads_good_productions_and_reports_each_bad_config(
    library: Library, library_in_airflow: Path
) -> None:
    dag_ids = expected_dag_ids(library)
    assert len(dag_ids) > len(library.good) + len(NIGHTLY)  # some bad configs have a good header
    # Twice: the second parse reads every result, good or bad, from the parse cache.
    for parse in ("cold", "cached"):
        dagbag = DagBag(str(DAGS_FOLDER))
        assert set(dagbag.dags) == dag_ids, parse
        assert INVALID_DAG_ID not in dagbag.dags
        assert [Path(name).name for name in dagbag.import_errors] == [ERRORS_FILE], parse
        (error,) = dagbag.import_errors.values()
        assert error.count("\n") >= len(library.bad), parse
        lines = error.splitlines()
        by_file = {
            path: [line for line in lines if line.startswith(f"{path}: ")] for path in library.bad
        }
        assert missing_errors(library, by_file) == {}, parse
    assert any(library_in_airflow.iterdir())  # the cache was really used


@pytest.fixture(scope="module")
def dag_processor(library: Library) -> Iterator[AirflowStack]:
    """A real ``airflow dag-processor`` over the lstflow DAG file and an unrelated one."""
    home = CHECKOUT / ".lstflow" / "airflow-rel-corpus"
    shutil.rmtree(home, ignore_errors=True)
    dags = home / "dags"
    dags.mkdir(parents=True)
    for dag_file in DAGS_FOLDER.glob("*.py"):
        shutil.copy(dag_file, dags / dag_file.name)
    (dags / "unrelated_dag.py").write_text(OTHER_DAG)
    stack = AirflowStack.create(
        home,
        dags,
        {
            "AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS": str(library.root),
            "AIRFLOW__LSTFLOW__PARSE_CACHE_DIR": str(home / "parse-cache"),
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        },
    )
    try:
        stack.start("dag-processor")
        yield stack
    finally:
        stack.stop_all()


def test_dag_processor_survives_the_corpus_and_keeps_loading_other_dags(
    library: Library, dag_processor: AirflowStack
) -> None:
    stack = dag_processor
    wanted = expected_dag_ids(library) | {"unrelated_dag"}

    def parsed() -> dict[str, str] | None:
        rows = stack.query("SELECT dag_id, last_parsed_time FROM dag WHERE NOT is_stale")
        found = {str(dag_id): str(when) for dag_id, when in rows}
        return found if wanted <= set(found) else None

    first = stack.wait(parsed, 600, "the good productions and the unrelated DAG to be parsed")
    dag_id = dag_id_for(library.good[next(iter(library.good))])
    # A second parse of the same files: the processor is still alive and still serving them.
    stack.wait(
        lambda: (parsed() or {}).get(dag_id, first[dag_id]) != first[dag_id],
        300,
        "a second parse of the production library",
    )
    stack.check_alive()
    rows = stack.query("SELECT filename, stacktrace FROM import_error")
    assert [Path(str(name)).name for name, _ in rows] == [ERRORS_FILE]
    lines = str(rows[0][1]).splitlines()
    by_file = {
        path: [line for line in lines if line.startswith(f"{path}: ")] for path in library.bad
    }
    assert missing_errors(library, by_file) == {}
    assert set(parsed() or {}) - wanted == set()  # no placeholder DAG for the bad configs
