"""The measured outcome of each fault, written by the tests for the README's fault table.

``.lstflow/test-artifacts/reliability.json`` maps each fault to its latest measurement; a test
run updates only the faults it exercised. ``python tests/reliability/fault_table.py`` prints the
table as Markdown.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

ARTIFACT = Path(__file__).resolve().parents[2] / ".lstflow" / "test-artifacts" / "reliability.json"


def record_fault(
    fault: str,
    *,
    finished: bool,
    classification: str,
    duplicates: int,
    lost_items: int,
    seconds: float,
) -> None:
    """Store one fault's outcome (``seconds``: its time to recover, as its test defines it;
    the README says which)."""
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACT.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        table = json.loads(ARTIFACT.read_text()) if ARTIFACT.exists() else {}
        table[fault] = {
            "finished": finished,
            "classification": classification,
            "duplicates": duplicates,
            "lost_items": lost_items,
            "seconds_to_recover": round(seconds, 1),
            "measured": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        tmp = ARTIFACT.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, ARTIFACT)


def markdown() -> str:
    table = json.loads(ARTIFACT.read_text())
    lines = [
        "| fault | outcome | production finished | duplicated submissions | lost items "
        "| time to recover |",
        "|---|---|---|---|---|---|",
    ]
    for fault, row in table.items():
        lines.append(
            f"| {fault} | {row['classification']} | {'yes' if row['finished'] else 'no'} "
            f"| {row['duplicates']} | {row['lost_items']} | {row['seconds_to_recover']:.0f} s |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
