"""The manifest read by ``lstflow.jobs.batch``: which files each array element processes.

Planners write one manifest per job array so each element's Slurm command stays short
(``python -m lstflow.jobs.batch MANIFEST.json --element 3 ...``) however many files it runs.
Standard library only, so Airflow-side planners may import it to write manifests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstflow.jobs.common import JobError, read_json, write_json_atomic

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class FileTask:
    """One file of a batch: the command that processes it and the output it must produce."""

    argv: tuple[str, ...]
    output: str

    def to_json(self) -> dict[str, Any]:
        return {"argv": list(self.argv), "output": self.output}


@dataclass(frozen=True)
class BatchManifest:
    """``elements[i]`` is the list of files array element ``i`` runs, in order."""

    elements: tuple[tuple[FileTask, ...], ...]

    def element(self, index: int, source: Path) -> tuple[FileTask, ...]:
        if not 0 <= index < len(self.elements):
            raise JobError(
                f"element {index} is out of range: {source} has {len(self.elements)} elements "
                f"(0..{len(self.elements) - 1}); check the job array's --array range"
            )
        return self.elements[index]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "elements": [[task.to_json() for task in element] for element in self.elements],
        }

    def write(self, path: Path, overwrite: bool = False) -> None:
        write_json_atomic(path, self.to_json(), overwrite=overwrite)

    @classmethod
    def read(cls, path: Path) -> BatchManifest:
        data = read_json(path, "batch manifest")
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
            raise JobError(
                f"{path}: key 'version' must be {MANIFEST_VERSION}; regenerate the manifest "
                "with this version of lstflow"
            )
        elements = data.get("elements")
        if not isinstance(elements, list):
            raise JobError(f"{path}: key 'elements' must be a list of lists of files")
        return cls(tuple(_parse_element(path, i, element) for i, element in enumerate(elements)))


def _parse_element(path: Path, index: int, element: object) -> tuple[FileTask, ...]:
    if not isinstance(element, list):
        raise JobError(f"{path}: elements[{index}] must be a list of files")
    tasks = []
    for j, task in enumerate(element):
        where = f"{path}: elements[{index}][{j}]"
        if not isinstance(task, dict) or set(task) != {"argv", "output"}:
            raise JobError(f"{where} must be an object with exactly the keys 'argv' and 'output'")
        argv, output = task["argv"], task["output"]
        if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
            raise JobError(f"{where}: key 'argv' must be a non-empty list of strings")
        if not isinstance(output, str) or not output:
            raise JobError(f"{where}: key 'output' must be a non-empty path string")
        tasks.append(FileTask(tuple(argv), output))
    return tuple(tasks)


def split_into_batches(tasks: Sequence[FileTask], per_element: int) -> BatchManifest:
    """Group tasks, in the given order, into elements of at most ``per_element`` files."""
    if per_element < 1:
        raise ValueError(f"per_element must be at least 1, got {per_element}")
    return BatchManifest(
        tuple(tuple(tasks[i : i + per_element]) for i in range(0, len(tasks), per_element))
    )
