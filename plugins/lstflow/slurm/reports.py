"""``SlurmReport``: what a Slurm task ran and which elements finally failed, as one type.

Part of the Slurm layer's public surface. Operators return it as JSON (their XCom, or the
``slurm_report`` XCom of a failed task), the sensor fails with it, and every reader (the
production provenance, the night status, the UI) turns the JSON back into this type with
``SlurmReport.from_json`` or ``pull_report``: nobody reads its keys by hand.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: The XCom key of a failed task's report (a successful task returns it).
FAILURE_XCOM_KEY = "slurm_report"


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


@dataclass(frozen=True)
class SlurmReport:
    """``completed`` of ``total`` elements succeeded; ``failed`` lists the others."""

    name: str
    total: int
    completed: int
    job_ids: tuple[str, ...]
    failed: tuple[FailedElement, ...] = ()

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
