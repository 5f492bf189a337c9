"""Manifest parsing: planners write it, the batch runner reads one element of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lstflow.jobs.batch_manifest import BatchManifest, FileTask, split_into_batches
from lstflow.jobs.common import JobError

pytestmark = pytest.mark.unit


def _tasks(n: int) -> list[FileTask]:
    return [FileTask(("tool", "-f", f"in{i}", "-o", "out"), f"out/dl1_{i}.h5") for i in range(n)]


def test_split_into_batches_keeps_order_and_size() -> None:
    manifest = split_into_batches(_tasks(5), per_element=2)
    assert [[t.output for t in e] for e in manifest.elements] == [
        ["out/dl1_0.h5", "out/dl1_1.h5"],
        ["out/dl1_2.h5", "out/dl1_3.h5"],
        ["out/dl1_4.h5"],
    ]


def test_manifest_round_trips_through_json(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    manifest = split_into_batches(_tasks(3), per_element=2)
    manifest.write(path)
    assert BatchManifest.read(path) == manifest
    assert manifest.element(1, path) == (_tasks(3)[2],)


def test_element_out_of_range_names_the_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    with pytest.raises(JobError, match=r"element 2 is out of range: .*m.json has 2 elements"):
        split_into_batches(_tasks(3), 2).element(2, path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"version": 99, "elements": []}, "key 'version' must be 1"),
        ({"version": 1, "elements": {}}, "key 'elements' must be a list"),
        ({"version": 1, "elements": [[{"argv": []}]]}, r"elements\[0\]\[0\] must be an object"),
        (
            {"version": 1, "elements": [[{"argv": [], "output": "o"}]]},
            r"elements\[0\]\[0\]: key 'argv' must be a non-empty list",
        ),
        (
            {"version": 1, "elements": [[{"argv": ["x"], "output": 3}]]},
            r"elements\[0\]\[0\]: key 'output' must be a non-empty path",
        ),
    ],
)
def test_bad_manifest_errors_name_file_and_key(
    tmp_path: Path, content: object, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(JobError, match=message) as error:
        BatchManifest.read(path)
    assert str(path) in str(error.value)


def test_unreadable_manifest_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(JobError, match=r"broken\.json is not valid JSON"):
        BatchManifest.read(path)
