"""lstosa's ``log/job_information.csv``: every sacct row of the night's jobs, as printed.

The rows come from the Slurm layer (``SlurmHook.accounting_rows``, the one sacct parser), in
lstosa's columns (``SACCT_FIELDS``, memory in G as its closer asks sacct for).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from lstflow.slurm.hook import SACCT_FIELDS, SacctRow


def job_information_csv(rows: Iterable[SacctRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SACCT_FIELDS)
    writer.writerows(row.values() for row in rows)
    return buffer.getvalue()
