"""Simulate mode, job side: print the command a job would run, create no outputs.

``python -m lstflow.jobs.simulate --key KEY [--fail-once-dir DIR] -- <argv>`` prints
``SIMULATE: <argv shell-quoted on one line>`` and exits 0. If ``DIR/KEY`` exists, the job
consumes it (deletes it) and exits 1: a deterministic "this subrun fails on its first try" for
retry tests; the retry finds no marker and passes.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
