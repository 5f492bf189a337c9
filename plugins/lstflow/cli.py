"""The ``lstflow`` command line: one sub-command module per job, registered here."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Each module defines ``register(subparsers)`` and sets ``handler`` on its parser; modules are
# imported only here so ``lstflow --help`` stays cheap and each command owns its own imports.
COMMAND_MODULES: tuple[str, ...] = (
    "lstflow.commands.init",
    "lstflow.commands.dags",
    "lstflow.commands.validate",
    "lstflow.commands.productions",
    "lstflow.commands.generate_config",
    "lstflow.commands.plan",
    "lstflow.commands.night",
)


def command_parser(
    prog: str, description: str, command_modules: Sequence[str]
) -> argparse.ArgumentParser:
    """A parser with one sub-command per module (also the development CLI's, ``lstflow_dev``)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in command_modules:
        importlib.import_module(module_name).register(subparsers)
    return parser


def build_parser() -> argparse.ArgumentParser:
    return command_parser(
        "lstflow",
        "Run the LST-1 analysis chain (lstchain) on Slurm from Apache Airflow.",
        COMMAND_MODULES,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), argv)


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the chosen command's handler; its exit status."""
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (``lstflow plan ... | head``): not an error of ours, and no
        # traceback. Point stdout at /dev/null so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result


if __name__ == "__main__":
    sys.exit(main())
