"""Per-task provenance fragments and their merge into W3C PROV-JSON (job side).

lstosa appended every task's records to one shared ``prov.log``; here each task writes its own
JSON fragment (inputs and outputs with size and sha256, software versions, config hashes,
command line, exit code, Slurm job id), atomically, and a night task merges the fragments into
PROV-JSON documents with the ``prov`` library (``lstflow.jobs.prov_document``): one for the
night and one per DATA run. The merge runs job-side because the fragments live on the cluster's
filesystem, which the Airflow host need not mount.

``python -m lstflow.jobs.provenance record --activity A --fragment F [--input=P]... [--output=P]...
-- <argv>`` creates the outputs' directories, runs ``argv`` and, if it succeeds, writes F.
``python -m lstflow.jobs.provenance merge --fragments-dir D --output F [--run-document N=P]...``
merges D/*.json into F and the calibration's and run N's fragments into P.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lstflow.jobs.common import slurm_job_id, write_text_atomic
from lstflow.jobs.prov_document import build_document, run_fragments
from lstflow.jobs.software import software_versions

FRAGMENT_FORMAT = "lstflow-provenance-fragment/1"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def file_entity(path: Path, hash_limit_bytes: int) -> dict[str, Any]:
    """Size and sha256 of a file; files above the limit (R0) get size only, to keep jobs fast."""
    if not path.is_file():
        return {"path": str(path), "exists": False}
    size = path.stat().st_size
    digest = None
    if size <= hash_limit_bytes:
        sha = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        digest = sha.hexdigest()
    return {"path": str(path), "exists": True, "size": size, "sha256": digest}


def config_files(argv: Sequence[str]) -> list[Path]:
    """Files given as ``--config=X`` / ``--config X`` (the form every generated line uses)."""
    found = []
    for index, arg in enumerate(argv):
        if arg.startswith("--config="):
            found.append(Path(arg.split("=", 1)[1]))
        elif arg == "--config" and index + 1 < len(argv):
            found.append(Path(argv[index + 1]))
    return found


def record(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("provenance record: no command given after '--'", file=sys.stderr)
        return 2
    limit = args.hash_limit_mb * 1024 * 1024
    started = _now()
    inputs = [file_entity(Path(p), limit) for p in args.input]
    for output in args.output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
    returncode = subprocess.run(command, check=False).returncode
    if returncode != 0:
        return returncode
    fragment = {
        "format": FRAGMENT_FORMAT,
        "activity": args.activity,
        "command": command,
        "exit_code": returncode,
        "started": started,
        "ended": _now(),
        "host": socket.gethostname(),
        "job_id": slurm_job_id(),
        "software": software_versions(),
        "configs": [file_entity(p, limit) for p in config_files(command)],
        "used": inputs,
        "generated": [file_entity(Path(p), limit) for p in args.output],
    }
    write_text_atomic(
        Path(args.fragment), json.dumps(fragment, indent=1, sort_keys=True), overwrite=True
    )
    return 0


def merge(args: argparse.Namespace) -> int:
    paths = sorted(Path(args.fragments_dir).glob("*.json"))
    fragments = [json.loads(p.read_text()) for p in paths]
    outputs = [(Path(args.output), fragments)]
    for spec in args.run_document:
        run, _, path = spec.partition("=")
        outputs.append((Path(path), run_fragments(fragments, int(run))))
    for output, chosen in outputs:
        document = build_document(chosen)
        text = str(document.serialize(format="json", indent=1))
        write_text_atomic(output, text, overwrite=True)
    print(f"merged {len(fragments)} provenance fragments into {[str(o) for o, _ in outputs]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lstflow.jobs.provenance")
    sub = parser.add_subparsers(dest="action", required=True)
    rec = sub.add_parser("record", help="run a command and write its provenance fragment")
    rec.add_argument("--activity", required=True)
    rec.add_argument("--fragment", required=True, type=Path)
    rec.add_argument("--input", action="append", default=[])
    rec.add_argument("--output", action="append", default=[])
    rec.add_argument("--hash-limit-mb", type=int, default=256)
    rec.add_argument("command", nargs=argparse.REMAINDER)
    rec.set_defaults(handler=record)
    mrg = sub.add_parser("merge", help="merge a night's fragments")
    mrg.add_argument("--fragments-dir", required=True, type=Path)
    mrg.add_argument("--output", required=True, type=Path, help="the night's PROV-JSON")
    mrg.add_argument(
        "--run-document",
        action="append",
        default=[],
        metavar="RUN=PATH",
        help="also write the PROV-JSON of a DATA run (with the calibration) to PATH",
    )
    mrg.set_defaults(handler=merge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
