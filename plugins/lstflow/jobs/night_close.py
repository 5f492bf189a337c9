"""Close a night (job side): write the "night closed" marker once every required output exists.

``python -m lstflow.jobs.night_close --night D --prod-id P --marker M --require F ...``.
Idempotent: an existing marker is left as it is. The marker is written atomically, so it is
the single truthful "this night and version are done" flag (lstosa's NightFinished.txt).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from lstflow.jobs.common import write_text_atomic


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lstflow.jobs.night_close")
    parser.add_argument("--night", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--prod-id", required=True)
    parser.add_argument("--marker", required=True, type=Path)
    parser.add_argument(
        "--require",
        action="append",
        default=[],
        type=Path,
        help="an output that must exist before the night is closed",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    missing = [str(p) for p in args.require if not p.exists()]
    if missing:
        print(
            f"night {args.night} ({args.prod_id}) not closed, missing: {missing}", file=sys.stderr
        )
        return 1
    if args.marker.exists():
        print(f"night {args.night} ({args.prod_id}) already closed: {args.marker}")
        return 0
    record = {
        "night": args.night.isoformat(),
        "prod_id": args.prod_id,
        "closed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "closed_by": f"{socket.gethostname()}:{os.getpid()}",
        "required": [str(p) for p in args.require],
    }
    write_text_atomic(args.marker, json.dumps(record, indent=1) + "\n", overwrite=True)
    print(f"night {args.night} ({args.prod_id}) closed: {args.marker}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
