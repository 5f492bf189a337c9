"""``lstflow night status --night YYYY-MM-DD [--prod-id P] [--json]``: a night's sequencer table.

Prints what the nightly DAG's ``night_status`` task recorded for that night and analysis version
(Slurm job ids, tries, element states and output percentages per run), as text or JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("night", help="nightly onsite analysis: status of a night")
    actions = parser.add_subparsers(dest="night_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="print the sequencer table of a night")
    status.add_argument(
        "--night", required=True, type=dt.date.fromisoformat, help="observation night YYYY-MM-DD"
    )
    status.add_argument(
        "--prod-id", default=None, help="analysis version (default: the onsite config's)"
    )
    status.add_argument("--json", action="store_true", help="print the JSON document")
    status.add_argument(
        "--onsite-config",
        type=Path,
        default=None,
        help="onsite YAML (default: [lstflow] onsite_config, else the packaged lst1_onsite.yaml)",
    )
    status.add_argument(
        "--base",
        default=None,
        help="onsite base directory (default: [lstflow] onsite_base, else $LSTFLOW_ONSITE_BASE)",
    )
    status.set_defaults(handler=run_status)


def run_status(args: argparse.Namespace) -> int:
    from lstflow.nightly.night_options import onsite_base, onsite_config
    from lstflow.nightly.night_status import status_files
    from lstflow.onsite.errors import OnsiteError
    from lstflow.onsite.paths import night_paths
    from lstflow.onsite.settings import build_version, load_settings

    try:
        settings = load_settings(args.onsite_config or onsite_config(), args.base or onsite_base())
        overrides = {"prod_id": args.prod_id} if args.prod_id else {}
        version = build_version(settings, overrides, source="--prod-id")
    except OnsiteError as error:
        print(error)
        return 1
    json_file, text_file = status_files(night_paths(settings, args.night, version))
    wanted = json_file if args.json else text_file
    if not wanted.is_file():
        print(
            f"no status recorded for night {args.night} (prod_id {version.prod_id}): {wanted} "
            "does not exist. Fix: the nightly DAG's night_status task writes it at the end of "
            "every run of that night; trigger or backfill the night first"
        )
        return 1
    print(wanted.read_text(), end="")
    return 0
