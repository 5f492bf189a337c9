"""Run one array element of a file batch: each file's command, retried once, never fatal early.

Used by the r0_to_dl1 and dl1ab stages (many files per array task). Unlike lstmcpipe, a file
that fails twice does not stop the batch: the remaining files still run, the tool's output of
every try is kept in a per-file log, partial outputs are moved aside to the production's
``failed_outputs`` directory, and the element exits non-zero with a summary at the end.

    python -m lstflow.jobs.batch MANIFEST.json --element 3 \
        --log-dir LOGS --failed-outputs-dir FAILED [--overwrite]

``--element`` defaults to ``$SLURM_ARRAY_TASK_ID`` so every element can share one command.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lstflow.jobs.batch_manifest import BatchManifest, FileTask
from lstflow.jobs.common import JobError, job_main

MAX_TRIES = 2


@dataclass
class FileOutcome:
    """What happened to one file of the batch; ``moved`` lists partial outputs set aside."""

    task: FileTask
    status: str  # "done", "skipped" or "failed"
    log: Path | None = None
    moved: list[Path] = field(default_factory=list)


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S_%fZ")


def set_aside(partial: Path, failed_outputs_dir: Path, label: str) -> Path:
    """Move a partial output into ``failed_outputs_dir`` under a new, never-reused name."""
    failed_outputs_dir.mkdir(parents=True, exist_ok=True)
    base = f"{partial.name}.{_timestamp()}.{label}"
    destination = failed_outputs_dir / base
    counter = 1
    while destination.exists():
        destination = failed_outputs_dir / f"{base}.{counter}"
        counter += 1
    shutil.move(partial, destination)
    return destination


def _log_path(log_dir: Path, output: Path) -> Path:
    return log_dir / f"{output.name}.log"


def _in_progress_marker(log_dir: Path, output: Path) -> Path:
    """Exists while a file is being processed: an output found next to it is a partial one
    left by a killed job (timeout, node failure), not a finished output to skip."""
    return log_dir / f"{output.name}.running"


def run_file(
    task: FileTask, log_dir: Path, failed_outputs_dir: Path, overwrite: bool
) -> FileOutcome:
    output = Path(task.output)
    log = _log_path(log_dir, output)
    marker = _in_progress_marker(log_dir, output)
    outcome = FileOutcome(task, "failed", log=log)
    if output.exists() and marker.exists():
        outcome.moved.append(set_aside(output, failed_outputs_dir, "interrupted"))
    if output.exists():
        if not overwrite:
            return FileOutcome(task, "skipped")
        output.unlink()
    output.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    with log.open("a") as log_file:
        for attempt in range(1, MAX_TRIES + 1):
            log_file.write(f"=== try {attempt}/{MAX_TRIES} at {_timestamp()}: ")
            log_file.write(shlex.join(task.argv) + "\n")
            log_file.flush()
            try:
                returncode = subprocess.run(
                    task.argv, stdout=log_file, stderr=subprocess.STDOUT, check=False
                ).returncode
            except OSError as exc:  # e.g. the executable does not exist
                log_file.write(f"cannot start command: {exc}\n")
                returncode = 127
            produced = output.exists()
            log_file.write(f"=== exit code {returncode}, output present: {produced}\n")
            log_file.flush()
            if returncode == 0 and produced:
                outcome.status = "done"
                break
            if produced:
                outcome.moved.append(set_aside(output, failed_outputs_dir, f"try{attempt}"))
    marker.unlink()
    return outcome


def run_batch(
    tasks: Sequence[FileTask], log_dir: Path, failed_outputs_dir: Path, overwrite: bool
) -> list[FileOutcome]:
    log_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for task in tasks:
        outcome = run_file(task, log_dir, failed_outputs_dir, overwrite)
        print(f"{outcome.status}: {task.output}", flush=True)
        outcomes.append(outcome)
    return outcomes


def summary(outcomes: Sequence[FileOutcome]) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    lines = [
        f"batch summary: {len(outcomes)} files, {counts['done']} done, "
        f"{counts['skipped']} skipped (output exists), {counts['failed']} failed"
    ]
    for outcome in outcomes:
        if outcome.status == "failed":
            lines.append(f"FAILED {shlex.join(outcome.task.argv)}")
            lines.append(f"  log: {outcome.log}")
        for moved in outcome.moved:
            lines.append(f"  partial output of {outcome.task.output} moved to {moved}")
    return "\n".join(lines)


def _element_index(value: int | None) -> int:
    if value is not None:
        return value
    from_slurm = os.environ.get("SLURM_ARRAY_TASK_ID")
    if from_slurm is None or not from_slurm.isdigit():
        raise JobError("no --element given and SLURM_ARRAY_TASK_ID is not set to an index")
    return int(from_slurm)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lstflow.jobs.batch", description=__doc__)
    parser.add_argument("manifest", type=Path, help="batch manifest JSON")
    parser.add_argument("--element", type=int, help="element index (default SLURM_ARRAY_TASK_ID)")
    parser.add_argument("--log-dir", type=Path, required=True, help="per-file logs go here")
    parser.add_argument(
        "--failed-outputs-dir",
        type=Path,
        required=True,
        help="partial outputs of failed tries are moved here (the production's own directory)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="rerun files whose output already exists"
    )
    return parser


@job_main("batch")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    manifest = BatchManifest.read(args.manifest)
    tasks = manifest.element(_element_index(args.element), args.manifest)
    outcomes = run_batch(tasks, args.log_dir, args.failed_outputs_dir, args.overwrite)
    report = summary(outcomes)
    failed = any(o.status == "failed" for o in outcomes)
    print(report, file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
