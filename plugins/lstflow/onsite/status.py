"""The night status view: lstosa's sequencer table, as text and as JSON.

Input is plain data (per-run job ids, element states and output file counts), so the same view
serves the UI (states from the Airflow DB / sacct) and tests. Percentages are output file counts
over the run's subruns, as in lstosa; DL2 is run-wise (one file per run).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstflow.onsite.paths import NightPaths, dl2_file_name
from lstflow.onsite.plan import NightPlan

COLUMNS = (
    "Run",
    "Type",
    "Subruns",
    "Source",
    "Tries",
    "JobID",
    "State",
    "DL1%",
    "DL1AB%",
    "DATACHECK%",
    "DL2%",
)
# The keys of a row of ``status_json``, in the order of COLUMNS.
ROW_KEYS = (
    "run",
    "type",
    "subruns",
    "source",
    "tries",
    "job_id",
    "state",
    "dl1_pct",
    "dl1ab_pct",
    "datacheck_pct",
    "dl2_pct",
)


@dataclass(frozen=True)
class OutputCounts:
    dl1: int = 0
    dl1ab: int = 0
    datacheck: int = 0
    dl2: int = 0


@dataclass(frozen=True)
class RunProgress:
    """One sequence: Slurm job ids of every submission (``tries`` counts distinct array ids, as
    lstosa does) and the element states of its latest attempt per subrun."""

    run_id: int
    run_type: str
    subruns: int
    source: str = ""
    job_ids: Sequence[str] = ()
    element_states: Sequence[str] = ()
    counts: OutputCounts | None = field(default=None)


def aggregate_state(states: Iterable[str]) -> str:
    """lstosa's rule for an array: all COMPLETED; all PENDING; else any FAILED, CANCELLED,
    TIMEOUT, RUNNING, in that order; ``UNKNOWN`` when nothing matches or nothing was submitted."""
    states = [s.split()[0].upper() for s in states if s]  # "CANCELLED by 0" → CANCELLED
    if not states:
        return "NOT_SUBMITTED"
    for state in ("COMPLETED", "PENDING"):
        if all(s == state for s in states):
            return state
    for state in ("FAILED", "CANCELLED", "TIMEOUT", "RUNNING"):
        if state in states:
            return state
    return "UNKNOWN"


def _array_job_ids(job_ids: Iterable[str]) -> list[str]:
    """Distinct array job ids (``2010_3`` → ``2010``), oldest first: one per submission."""
    heads = {job_id.split("_")[0] for job_id in job_ids if job_id}
    return sorted(heads, key=lambda head: (int(head) if head.isdigit() else -1, head))


def _percent(count: int, total: int) -> int:
    return round(100 * count / total) if total else 0


def run_row(progress: RunProgress) -> dict[str, Any]:
    """One table row as a JSON-safe dict; percentages are ``None`` for calibration sequences."""
    job_ids = _array_job_ids(progress.job_ids)
    counts = progress.counts
    row: dict[str, Any] = {
        "run": progress.run_id,
        "type": progress.run_type,
        "subruns": progress.subruns,
        "source": progress.source or None,
        "tries": len(job_ids),
        "job_id": job_ids[-1] if job_ids else None,
        "state": aggregate_state(progress.element_states),
    }
    for name in ("dl1", "dl1ab", "datacheck"):
        row[f"{name}_pct"] = (
            None if counts is None else _percent(getattr(counts, name), progress.subruns)
        )
    row["dl2_pct"] = None if counts is None else _percent(counts.dl2, 1)
    return row


def status_json(night: str, prod_id: str, runs: Sequence[RunProgress]) -> dict[str, Any]:
    return {
        "night": night,
        "prod_id": prod_id,
        "columns": list(COLUMNS),
        "runs": [run_row(r) for r in runs],
    }


def status_table(night: str, prod_id: str, runs: Sequence[RunProgress]) -> str:
    """A fixed-width text table, one line per sequence (lstosa's ``sequencer -s`` output)."""
    cells = [
        [("-" if row[k] is None else str(row[k])) for k in ROW_KEYS]
        for row in (run_row(r) for r in runs)
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(COLUMNS)]
    lines = [
        f"Night {night}  prod_id {prod_id}",
        "  ".join(h.ljust(w) for h, w in zip(COLUMNS, widths, strict=True)),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _count(paths: Iterable[Path], pattern: re.Pattern[str]) -> int:
    return sum(1 for p in paths if pattern.match(p.name))


def count_outputs(paths: NightPaths, run_id: int) -> OutputCounts:
    """Output files on disk for a run, whatever tail-cut and NSB directories it went to."""
    subrun_dl1 = re.compile(rf"^dl1_LST-1\.Run{run_id:05d}\.\d{{4}}\.h5$")
    subrun_check = re.compile(rf"^datacheck_dl1_LST-1\.Run{run_id:05d}\.\d{{4}}\.h5$")
    return OutputCounts(
        dl1=_count(paths.dl1_dir.glob(f"dl1_LST-1.Run{run_id:05d}.*.h5"), subrun_dl1),
        dl1ab=_count(paths.dl1_dir.glob(f"tailcut*/dl1_LST-1.Run{run_id:05d}.*.h5"), subrun_dl1),
        datacheck=_count(paths.dl1_dir.glob("tailcut*/datacheck/datacheck_dl1_*.h5"), subrun_check),
        dl2=len(list(paths.dl2_dir.glob(f"tailcut*/nsb_tuning_*/{dl2_file_name(run_id)}"))),
    )


@dataclass(frozen=True)
class JobHistory:
    """What the scheduler knows of a sequence: its Slurm job ids and latest element states."""

    job_ids: Sequence[str] = ()
    element_states: Sequence[str] = ()


def night_progress(plan: NightPlan, jobs: Mapping[int, JobHistory]) -> list[RunProgress]:
    """The calibration sequence (keyed by the PEDCALIB run) and every data run, counted on disk."""
    calib = jobs.get(plan.pedcal.run_id, JobHistory())
    rows = [RunProgress(plan.pedcal.run_id, "PEDCALIB", 1, "", calib.job_ids, calib.element_states)]
    for run in plan.data_runs:
        history = jobs.get(run.run_id, JobHistory())
        rows.append(
            RunProgress(
                run.run_id,
                "DATA",
                run.n_subruns,
                run.source.name,
                history.job_ids,
                history.element_states,
                count_outputs(plan.paths, run.run_id),
            )
        )
    return rows
