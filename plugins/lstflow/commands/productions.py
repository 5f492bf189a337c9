"""``lstflow productions list [ROOT]``: what the production library holds."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from lstflow.config import load_library
from lstflow.config.envvars import KeepUnset
from lstflow.config.loader import readme_title


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("productions", help="inspect the production library")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        help="prod_id, stages, entries per stage, environment and README title of each config",
    )
    listing.add_argument(
        "root",
        nargs="?",
        type=Path,
        default=None,
        help="the library (default: [lstflow] production_configs of airflow.cfg)",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument("--cache-dir", type=Path, default=None, help="parse cache directory")
    listing.set_defaults(handler=run_list)


def configured_library() -> Path:
    """The deployment's library; reading airflow.cfg costs Airflow's import, so only here."""
    from lstflow.product_base.options import production_configs_dir

    return production_configs_dir()


def library_rows(
    root: Path, cache_dir: Path | None, environ: KeepUnset | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per valid config (by prod_id, the default part first) and the others' errors.

    Configs sharing a prod_id are parts of one production: ``config`` is each part's label and
    ``default`` says which one a run uses unless the trigger picks another. A ``${NAME}`` not set
    in ``environ`` stays as written: a listing needs no site paths.
    """
    library = load_library(root, cache_dir=cache_dir, environ=environ)
    rows = [
        {
            "prod_id": prod_id,
            "path": str(config.path),
            "config": parts.label(config),
            "default": config is parts.default,
            "stages": config.entry_counts(),
            "environment": config.source_environment.label,
            "readme": readme_title(config.readme),
        }
        for prod_id, parts in sorted(library.productions.items())
        for config in (parts.default, *(c for c in parts.configs if c is not parts.default))
    ]
    errors = [str(error) for _, error in sorted(library.errors.items())]
    return rows, errors


def run_list(args: argparse.Namespace) -> int:
    root: Path = args.root or configured_library()
    if not root.is_dir():
        print(f"lstflow productions list: {root}: not a directory", file=sys.stderr)
        return 1
    environ = KeepUnset(os.environ)
    rows, errors = library_rows(root, args.cache_dir, environ)
    for name in sorted(environ.unset):
        print(
            f"note: ${{{name}}} is not set here, so paths are shown as written; a run expands "
            f"it from [lstflow] config_variables in airflow.cfg (or export {name}=...)",
            file=sys.stderr,
        )
    if args.json:
        json.dump({"productions": rows, "errors": errors}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        table = [["PROD_ID", "STAGES (entries)", "ENVIRONMENT", "README"]]
        for row in rows:
            stages = " ".join(f"{stage}={count}" for stage, count in row["stages"].items())
            # A further part of a production: its config label instead of the README title.
            described = row["readme"] if row["default"] else f"part: {row['config']}"
            table.append([row["prod_id"], stages, row["environment"], described])
        widths = [max(len(line[column]) for line in table) for column in range(3)]
        for line in table:
            cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
            print("  ".join([*cells, line[3]]).rstrip())
        for error in errors:
            print(error, file=sys.stderr)
    return 1 if errors else 0
