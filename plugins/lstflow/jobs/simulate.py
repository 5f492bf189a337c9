"""Simulate mode, job side: print the command a job would run, create no outputs.

``python -m lstflow.jobs.simulate --key KEY [--fail-once-dir DIR] -- <argv>`` prints
``SIMULATE: <argv shell-quoted on one line>`` and exits 0. If ``DIR/KEY`` exists, the job
consumes it (deletes it) and exits 1: a deterministic "this subrun fails on its first try" for
retry tests; the retry finds no marker and passes. With ``--fragment F`` a passing call writes
a provenance fragment marked ``simulated`` (command, job id, the paths it would read and write,
unhashed), so a simulated night's PROV documents name every step it ran.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from lstflow.jobs.common import slurm_job_id, write_text_atomic

PREFIX = "SIMULATE: "
FAILED_PREFIX = "SIMULATE-FAILED-ONCE: "


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lstflow.jobs.simulate",
        description="Print a job's command instead of running it.",
    )
    parser.add_argument("--key", required=True, help="the work item's key")
    parser.add_argument(
        "--fail-once-dir",
        type=Path,
        default=None,
        help="a file named KEY here makes this call fail once (and is consumed)",
    )
    parser.add_argument("--fragment", type=Path, default=None, help="provenance fragment to write")
    parser.add_argument("--input", action="append", default=[], help="a file it would read")
    parser.add_argument("--output", action="append", default=[], help="a file it would write")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command's argv")
    return parser


def consume_fail_once_marker(fail_once_dir: Path | None, key: str) -> bool:
    """True if this call took the marker (unlink is atomic: exactly one caller gets it)."""
    if fail_once_dir is None:
        return False
    try:
        (fail_once_dir / key).unlink()
    except FileNotFoundError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("simulate: no command given after '--'", file=sys.stderr)
        return 2
    line = shlex.join(command)
    print(PREFIX + line, flush=True)
    if consume_fail_once_marker(args.fail_once_dir, args.key):
        print(FAILED_PREFIX + args.key, file=sys.stderr, flush=True)
        return 1
    if args.fragment is not None:
        write_fragment(args.fragment, args.key, command, args.input, args.output)
    return 0


def write_fragment(
    path: Path, key: str, command: list[str], inputs: list[str], outputs: list[str]
) -> None:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    fragment = {
        "activity": key,
        "simulated": True,
        "command": command,
        "exit_code": 0,
        "started": now,
        "ended": now,
        "host": socket.gethostname(),
        "job_id": slurm_job_id(),
        "software": {},
        "used": [{"path": p} for p in inputs],
        "generated": [{"path": p} for p in outputs],
    }
    write_text_atomic(path, json.dumps(fragment, indent=1, sort_keys=True), overwrite=True)


if __name__ == "__main__":
    sys.exit(main())
