"""``lstflow dags write FOLDER``: put lstflow's DAG files into a deployment's dags folder."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from lstflow.commands.dag_files import DAG_FILES


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("dags", help="the DAG files of a deployment")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    write = actions.add_parser(
        "write",
        help=f"write {', '.join(DAG_FILES)} into a dags folder",
        description="The files read the production library and every site path from "
        "[lstflow] in airflow.cfg when parsed, so they need no editing.",
    )
    write.add_argument("folder", type=Path, help="Airflow's [core] dags_folder")
    write.add_argument(
        "--overwrite", action="store_true", help="replace files of these names that differ"
    )
    write.set_defaults(handler=run_write)


def write_dag_files(folder: Path, *, overwrite: bool) -> list[Path]:
    """Write every DAG file into ``folder``; return those written (unchanged ones are skipped).

    Refuses, before writing anything, to replace a differing file unless ``overwrite``.
    """
    targets = {folder / name: text for name, text in DAG_FILES.items()}
    differing = [
        path for path, text in targets.items() if path.exists() and path.read_text() != text
    ]
    if differing and not overwrite:
        names = ", ".join(str(path) for path in differing)
        raise FileExistsError(
            f"refusing to replace {names}: they differ from this lstflow's DAG files "
            "(pass --overwrite to replace them)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in targets.items():
        if path.exists() and path.read_text() == text:
            continue
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".lstflow-", suffix=".tmp")
        with os.fdopen(fd, "w") as stream:
            stream.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        written.append(path)
    return written


def run_write(args: argparse.Namespace) -> int:
    try:
        written = write_dag_files(args.folder, overwrite=args.overwrite)
    except (FileExistsError, OSError) as error:
        print(f"lstflow dags write: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"{len(DAG_FILES)} DAG files in {args.folder} ({len(written)} written)")
    return 0
