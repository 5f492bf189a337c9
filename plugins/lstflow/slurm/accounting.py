"""Slurm accounting of finished and running jobs: lstosa's ``sacct`` fields, typed.

``sacct --parsable2 --noheader --units=G -j <ids> -o JobID,JobName,CPUTime,CPUTimeRAW,Elapsed,
TotalCPU,MaxRSS,State,ExitCode`` prints one row per allocation (``123_4``) and per step
(``123_4.batch``); MaxRSS is only known on steps. The rows feed the night status table
(CPU time, exit code) and ``job_information.csv``, which lstosa's closer writes from the same
command.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lstflow.slurm.elements import ElementId, SlurmOutputError, parse_job_id

ACCOUNTING_FIELDS = (
    "JobID",
    "JobName",
    "CPUTime",
    "CPUTimeRAW",
    "Elapsed",
    "TotalCPU",
    "MaxRSS",
    "State",
    "ExitCode",
)


def sacct_accounting_argv(job_ids: Sequence[str]) -> list[str]:
    return [
        "sacct",
        "--parsable2",
        "--noheader",
        "--units=G",
        "-j",
        ",".join(job_ids),
        "-o",
        ",".join(ACCOUNTING_FIELDS),
    ]


@dataclass(frozen=True)
class AccountingRow:
    """One sacct row; ``elements`` are the array elements an allocation row stands for (a
    pending ``123_[0-3]`` stands for four), none for a step row."""

    job_id: str
    name: str
    cpu_time: str
    cpu_seconds: int
    elapsed: str
    total_cpu: str
    max_rss: str
    state: str
    exit_code: str
    elements: tuple[ElementId, ...]

    def values(self) -> tuple[str, ...]:
        """The row in ``ACCOUNTING_FIELDS`` order."""
        return (
            self.job_id,
            self.name,
            self.cpu_time,
            str(self.cpu_seconds),
            self.elapsed,
            self.total_cpu,
            self.max_rss,
            self.state,
            self.exit_code,
        )


def parse_accounting(text: str) -> list[AccountingRow]:
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != len(ACCOUNTING_FIELDS):
            raise SlurmOutputError(
                f"sacct printed {line!r}; expected {len(ACCOUNTING_FIELDS)} '|'-separated fields"
            )
        job_field, name, cpu_time, cpu_raw, elapsed, total_cpu, max_rss, state, exit_code = parts
        if not cpu_raw.isdigit():
            raise SlurmOutputError(f"sacct printed CPUTimeRAW {cpu_raw!r} in {line!r}")
        job_id, indices, step = parse_job_id(job_field)
        elements = () if step or indices is None else tuple(ElementId(job_id, i) for i in indices)
        rows.append(
            AccountingRow(
                job_field,
                name,
                cpu_time,
                int(cpu_raw),
                elapsed,
                total_cpu,
                max_rss,
                state,
                exit_code,
                elements,
            )
        )
    return rows


def job_information_csv(rows: Iterable[AccountingRow]) -> str:
    """lstosa's ``log/job_information.csv``: every sacct row of the night's jobs."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ACCOUNTING_FIELDS)
    writer.writerows(row.values() for row in rows)
    return buffer.getvalue()
