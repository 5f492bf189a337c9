"""``lstflow init``: render ``airflow.cfg.template`` into ``$AIRFLOW_HOME/airflow.cfg``."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("init", help="write $AIRFLOW_HOME/airflow.cfg for this checkout")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("filled in by the foundation work")
