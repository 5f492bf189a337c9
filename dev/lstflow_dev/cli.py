"""The development command line (``python -m lstflow_dev``): local cluster and demo.

The user-facing commands (validate, plan, generate-config, productions, night, init) are in
``lstflow``; these only make sense in a checkout, next to the machine-wide local cluster.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = ("lstflow_dev.commands.cluster", "lstflow_dev.commands.demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lstflow_dev",
        description="lstflow development tooling: the local Slurm cluster and the demo.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
