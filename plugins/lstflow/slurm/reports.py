"""``SlurmReport``: what a Slurm task ran and which elements finally failed, as one type.

Part of the Slurm layer's public surface. Operators return it as JSON (their XCom, or the
``slurm_report`` XCom of a failed task), the sensor fails with it, and every reader (the
production provenance, the night status, the UI) turns the JSON back into this type with
``SlurmReport.from_json`` or ``pull_report``: nobody reads its keys by hand.

A report is bounded in bytes whatever the jobs wrote (a 20 MB stderr line used to become a
20 MB XCom, task log and production page): each failed element's stderr tail keeps its last
``STDERR_TAIL_BYTES``, its other texts ``TEXT_BYTES``, and a report lists at most
``MAX_FAILED_ROWS`` failures (``omitted`` counts the others), so its JSON stays under
``MAX_REPORT_BYTES``. The element logs on the cluster keep everything.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: The XCom key of a failed task's report (a successful task returns it).
FAILURE_XCOM_KEY = "slurm_report"
#: The end of a failed element's stderr kept in its report (a traceback's last lines).
STDERR_TAIL_BYTES = 4 * 1024
#: Each other text of a failed element (key, state, command, log paths, note).
TEXT_BYTES = 1024
#: Failures listed one by one in a report; ``SlurmReport.omitted`` counts the rest.
MAX_FAILED_ROWS = 50
#: What a report's JSON may weigh at most: ``MAX_FAILED_ROWS`` rows at their caps (10 KiB of
#: UTF-8 each) even if every character is escaped (``\u00e9``: 3 JSON bytes per UTF-8 byte).
MAX_REPORT_BYTES = 2 * 1024 * 1024
#: Failures a report's one-line summary (an exception message) names.
SUMMARY_ROWS = 10


def last_bytes(text: str, max_bytes: int) -> str:
    """``text`` if it fits in ``max_bytes`` of UTF-8, else its end, after a note of the cut."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    note = f"[{len(data):,} bytes, the first ones cut]\n"
    kept = data[len(data) - max_bytes + len(note.encode()) :].decode(errors="ignore")
    return note + kept


def first_bytes(text: str, max_bytes: int) -> str:
    """``text`` if it fits in ``max_bytes`` of UTF-8, else its start and a note of the cut."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    note = f" [{len(data):,} bytes, the last ones cut]"
    return data[: max_bytes - len(note.encode())].decode(errors="ignore") + note


@dataclass(frozen=True)
class FailedElement:
    """One element that ended failed after all its attempts."""

    element: str
    key: str
    state: str
    exit_code: int | None
    signal: int | None
    attempts: int
    command: str = ""
    stdout_log: str = ""
    stderr_log: str = ""
    stderr_tail: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        # Capped where made and where read back: every report in an XCom is bounded.
        for name in ("key", "state", "command", "stdout_log", "stderr_log", "note"):
            object.__setattr__(self, name, first_bytes(getattr(self, name), TEXT_BYTES))
        object.__setattr__(self, "stderr_tail", last_bytes(self.stderr_tail, STDERR_TAIL_BYTES))


@dataclass(frozen=True)
class SlurmReport:
    """``completed`` of ``total`` elements succeeded; ``failed`` lists the others, at most
    ``MAX_FAILED_ROWS`` of them (``omitted`` counts the ones beyond)."""

    name: str
    total: int
    completed: int
    job_ids: tuple[str, ...]
    failed: tuple[FailedElement, ...] = ()
    omitted: int = 0

    def __post_init__(self) -> None:
        if len(self.failed) > MAX_FAILED_ROWS:
            object.__setattr__(self, "omitted", self.omitted + len(self.failed) - MAX_FAILED_ROWS)
            object.__setattr__(self, "failed", tuple(self.failed[:MAX_FAILED_ROWS]))

    @property
    def failure_count(self) -> int:
        """Every failed element, listed or omitted."""
        return len(self.failed) + self.omitted

    def summary(self) -> str:
        """One line naming the first failures, for an exception message."""
        named = "; ".join(
            f"{f.element} {f.state} exit {f.exit_code}" for f in self.failed[:SUMMARY_ROWS]
        )
        more = self.failure_count - min(len(self.failed), SUMMARY_ROWS)
        return named + (f"; and {more} more" if more else "")

    @classmethod
    def nothing_to_do(cls, name: str) -> SlurmReport:
        return cls(name=name, total=0, completed=0, job_ids=())

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types (lists, not tuples): XComs and trigger events carry it."""
        data: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> SlurmReport:
        """Read a stored report; a trigger's XCom arrives as JSON text (Airflow 3.3)."""
        value = json.loads(data) if isinstance(data, str) else data
        return cls(
            name=str(value["name"]),
            total=int(value["total"]),
            completed=int(value["completed"]),
            job_ids=tuple(str(job) for job in value["job_ids"]),
            failed=tuple(FailedElement(**row) for row in value.get("failed") or ()),
            omitted=int(value.get("omitted", 0)),
        )

    @classmethod
    def parse(cls, value: Any) -> SlurmReport | None:
        """``from_json`` for values that may not be a report at all (other XComs, ``None``)."""
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if not isinstance(value, Mapping) or "job_ids" not in value:
            return None
        return cls.from_json(value)


def pull_report(ti: Any, task_id: str, **pull_options: Any) -> SlurmReport | None:
    """A Slurm task's report as another task pulls it: its return value, else its failure report.

    ``pull_options`` (``map_indexes``) go to ``xcom_pull``.
    """
    for key in ("return_value", FAILURE_XCOM_KEY):
        report = SlurmReport.parse(ti.xcom_pull(task_ids=task_id, key=key, **pull_options))
        if report is not None:
            return report
    return None
