"""The development command line (``python -m lstflow_dev``): local cluster and demo.

The user-facing commands (validate, plan, generate-config, productions, night, init) are in
``lstflow``; these only make sense in a checkout, next to the machine-wide local cluster.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lstflow.cli import command_parser, run_command

COMMAND_MODULES: tuple[str, ...] = ("lstflow_dev.commands.cluster", "lstflow_dev.commands.demo")


def build_parser() -> argparse.ArgumentParser:
    return command_parser(
        "python -m lstflow_dev",
        "lstflow development tooling: the local Slurm cluster and the demo.",
        COMMAND_MODULES,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
