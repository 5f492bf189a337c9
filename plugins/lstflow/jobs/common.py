"""Helpers shared by the job-side modules: atomic writes and uniform failure reporting."""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol


class JobError(Exception):
    """A failure the user can act on: ``main`` prints it and exits non-zero, no traceback."""


def refuse_existing(target: Path, overwrite: bool) -> None:
    """Outputs are never replaced silently; ``--overwrite`` is the only way to replace them."""
    if target.exists() and not overwrite:
        raise JobError(f"{target} already exists; pass --overwrite to replace it")


@contextmanager
def atomic_output(target: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s directory; move it onto ``target`` on success.

    The temporary name keeps ``target``'s suffixes (writers such as astropy and matplotlib pick
    the format from them) and lives in the same directory so ``os.replace`` is atomic: readers
    see either no file or the complete file, never a partial one. On error it is removed.
    """
    refuse_existing(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{secrets.token_hex(4)}-{target.name}")
    try:
        yield tmp
        if not tmp.exists():
            raise JobError(f"nothing was written for {target}")
        refuse_existing(target, overwrite)  # another writer may have finished meanwhile
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(target: Path, text: str, overwrite: bool = False) -> None:
    with atomic_output(target, overwrite) as tmp:
        tmp.write_text(text)


def slurm_job_id() -> str | None:
    """``<array job>_<index>`` inside an array element, the job id in a plain job, else None."""
    array_job, index = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and index:
        return f"{array_job}_{index}"
    return os.environ.get("SLURM_JOB_ID")


def write_json_atomic(target: Path, data: Any, overwrite: bool = False) -> None:
    write_text_atomic(target, json.dumps(data, indent=2, sort_keys=True) + "\n", overwrite)


def read_json(path: Path, what: str) -> Any:
    """Read a JSON file, turning I/O and syntax errors into a ``JobError`` naming the file."""
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise JobError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise JobError(f"{what} {path} is not valid JSON: {exc}") from exc


class MainFunction(Protocol):
    def __call__(self, argv: Sequence[str] | None = None) -> int: ...


def job_main(prog: str) -> Callable[[MainFunction], MainFunction]:
    """Wrap a module's ``main`` so a ``JobError`` becomes a one-line message and exit code 1."""

    def decorate(run: MainFunction) -> MainFunction:
        @functools.wraps(run)
        def main(argv: Sequence[str] | None = None) -> int:
            try:
                return run(argv)
            except JobError as exc:
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return 1

        return main

    return decorate
