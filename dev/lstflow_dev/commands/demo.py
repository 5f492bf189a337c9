"""``python -m lstflow_dev demo``: the demo productions through Airflow on the local Slurm.

Quiet by default: the terminal shows each production's stages as they start, move and end,
then the products and how to open them in the UI; Airflow's, asyncssh's and lstchain's output
goes to a log file whose path is printed first and last (``--verbose`` shows it all instead).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from lstflow_dev import demo
from lstflow_dev.checkout import state_dir
from lstflow_dev.demo_console import report_lines, run_quietly, terminal


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the demo productions (real lstchain) through Airflow on the local cluster",
        description="Needs `lstflow init` and `make cluster-up` first (`make demo` does both).",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="where the demo data go (default: $LSTFLOW_DATA_ROOT, else .lstflow/data)",
    )
    parser.add_argument(
        "--overwrite",
        choices=("refuse", "skip", "overwrite"),
        default="skip",
        help="what to do with outputs of an earlier demo run (default: skip them)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print every log line instead of the progress"
    )
    parser.set_defaults(handler=run)


def demo_log_path() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return state_dir() / "logs" / f"demo-{stamp}.log"


def run(args: argparse.Namespace) -> int:
    data_root = (args.data_root or demo.default_data_root()).resolve()
    conf = {"overwrite": args.overwrite}
    if args.verbose:
        states = demo.run_demo(data_root, conf)
        print("\n".join(report_lines(states, data_root, None)))
    else:
        with terminal() as console:
            states = run_quietly(data_root, conf, console, demo_log_path())
    return 0 if all(state == "success" for state in states.values()) else 1
