"""``python -m lstflow_dev demo``: the demo productions through Airflow on the local Slurm."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lstflow_dev import demo


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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    data_root = (args.data_root or demo.default_data_root()).resolve()
    states = demo.run_demo(data_root, {"overwrite": args.overwrite})
    print(json.dumps(states, indent=1))
    for label, path in demo.products(data_root).items():
        print(f"{label:24s} {path}{'' if path.exists() else '  (missing)'}")
    return 0 if all(state == "success" for state in states.values()) else 1
