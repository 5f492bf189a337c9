"""The night status view: lstosa's sequencer table, as text and as JSON.

Input is plain data (per-run job ids, element states and output file counts), so the same view
serves the UI (states from the Airflow DB / sacct) and tests. Percentages are output file counts
over the run's subruns, as in lstosa; DL2 is run-wise (one file per run).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstflow.onsite.files import NightFiles
from lstflow.onsite.paths import NightPaths, dl2_file_name
from lstflow.onsite.plan import NightPlan

COLUMNS = (
    "Seq",
    "Parent",
    "Type",
    "Run",
    "Subruns",
    "Source",
    "Action",
    "Tries",
    "JobID",
    "State",
    "CPU_time",
    "Exit",
    "DL1%",
    "MUONS%",
    "CAT-B",
    "DL1AB%",
    "DATACHECK%",
    "DL2%",
)
# The keys of a row of ``status_json``, in the order of COLUMNS.
ROW_KEYS = (
    "seq",
    "parent",
    "type",
    "run",
    "subruns",
    "source",
    "action",
    "tries",
    "job_id",
    "state",
    "cpu_time",
    "exit",
    "dl1_pct",
    "muons_pct",
    "catb",
    "dl1ab_pct",
    "datacheck_pct",
    "dl2_pct",
)


@dataclass(frozen=True)
class OutputCounts:
    """Per product: subrun files (DL2: run files) found on disk, or, in simulate mode, array
    elements that completed (a simulated night writes no products)."""

    dl1: int = 0
    muons: int = 0
    dl1ab: int = 0
    datacheck: int = 0
    dl2: int = 0


@dataclass(frozen=True)
class Accounting:
    """What sacct says of a sequence's latest attempts: summed CPU time, first bad exit code."""

    cpu_seconds: int | None = None
    exit_code: str | None = None


@dataclass(frozen=True)
class RunProgress:
    """One sequence: Slurm job ids of every submission (``tries`` counts distinct array ids, as
    lstosa does) and the element states of its latest attempt per subrun. ``seq`` and
    ``parent`` number the sequences as lstosa does (calibration 1, its DATA runs' parent)."""

    run_id: int
    run_type: str
    subruns: int
    source: str = ""
    job_ids: Sequence[str] = ()
    element_states: Sequence[str] = ()
    counts: OutputCounts | None = field(default=None)
    seq: int = 1
    parent: int | None = None
    action: str = "Check"
    accounting: Accounting = Accounting()
    catb: str | None = None
    #: The night that took this calibration run, when it is not this night: the owner builds
    #: it (see ``lstflow.nightly.step_operator.calibration_action``).
    borrowed_from: dt.date | None = None


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


def cpu_time(seconds: int | None) -> str | None:
    """sacct's ``[D-]HH:MM:SS``."""
    if seconds is None:
        return None
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    clock = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}-{clock}" if days else clock


def _row_state(progress: RunProgress) -> str:
    """``BORROWED`` for a calibration run another night took and this night did not build:
    its owner's row says how it went, ``NOT_SUBMITTED`` here would read as a fault."""
    if progress.borrowed_from is not None and not progress.job_ids:
        return "BORROWED"
    return aggregate_state(progress.element_states)


def run_row(progress: RunProgress) -> dict[str, Any]:
    """One table row as a JSON-safe dict; percentages are ``None`` for calibration sequences."""
    job_ids = _array_job_ids(progress.job_ids)
    counts = progress.counts
    row: dict[str, Any] = {
        "seq": progress.seq,
        "parent": progress.parent,
        "type": progress.run_type,
        "run": progress.run_id,
        "subruns": progress.subruns,
        "source": progress.source or None,
        "calibration_night": None
        if progress.borrowed_from is None
        else str(progress.borrowed_from),
        "action": progress.action,
        "tries": len(job_ids),
        "job_id": job_ids[-1] if job_ids else None,
        "state": _row_state(progress),
        "cpu_time": cpu_time(progress.accounting.cpu_seconds),
        "exit": progress.accounting.exit_code,
    }
    for name in ("dl1", "muons", "dl1ab", "datacheck"):
        row[f"{name}_pct"] = (
            None if counts is None else _percent(getattr(counts, name), progress.subruns)
        )
    row["catb"] = progress.catb
    row["dl2_pct"] = None if counts is None else _percent(counts.dl2, 1)
    return row


def status_json(
    night: str, prod_id: str, runs: Sequence[RunProgress], simulate: bool = False
) -> dict[str, Any]:
    return {
        "night": night,
        "prod_id": prod_id,
        "simulate": simulate,
        "columns": list(COLUMNS),
        "runs": [run_row(r) for r in runs],
    }


def status_table(
    night: str, prod_id: str, runs: Sequence[RunProgress], simulate: bool = False
) -> str:
    """A fixed-width text table, one line per sequence (lstosa's ``sequencer -s`` output).

    A simulated night says so in its title: its percentages count completed jobs, not files.
    """
    cells = [
        [("-" if row[k] is None else str(row[k])) for k in ROW_KEYS]
        for row in (run_row(r) for r in runs)
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(COLUMNS)]
    mark = "  SIMULATE (commands printed, no outputs; % = completed jobs)" if simulate else ""
    lines = [
        f"Night {night}  prod_id {prod_id}{mark}",
        "  ".join(h.ljust(w) for h, w in zip(COLUMNS, widths, strict=True)),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _count(paths: Iterable[Path], pattern: re.Pattern[str]) -> int:
    return sum(1 for p in paths if pattern.match(p.name))


def count_outputs(files: NightFiles, paths: NightPaths, run_id: int) -> OutputCounts:
    """Output files on disk for a run, whatever tail-cut and NSB directories it went to
    (three batched listings, shared by every run of the night)."""
    subrun_dl1 = re.compile(rf"^dl1_LST-1\.Run{run_id:05d}\.\d{{4}}\.h5$")
    subrun_check = re.compile(rf"^datacheck_dl1_LST-1\.Run{run_id:05d}\.\d{{4}}\.h5$")
    subrun_muons = re.compile(rf"^muons_LST-1\.Run{run_id:05d}\.\d{{4}}\.fits$")
    files.prefetch((paths.dl1_dir, paths.dl2_dir))
    dl1b_dirs = [d for d in files.directories(paths.dl1_dir) if d.name.startswith("tailcut")]
    dl2_tailcuts = [d for d in files.directories(paths.dl2_dir) if d.name.startswith("tailcut")]
    files.prefetch((*dl1b_dirs, *(d / "datacheck" for d in dl1b_dirs), *dl2_tailcuts))
    dl2_dirs = [
        d for t in dl2_tailcuts for d in files.directories(t) if d.name.startswith("nsb_tuning_")
    ]
    files.prefetch(dl2_dirs)
    return OutputCounts(
        dl1=_count(files.files(paths.dl1_dir), subrun_dl1),
        muons=_count(files.files(paths.dl1_dir), subrun_muons),
        dl1ab=sum(_count(files.files(d), subrun_dl1) for d in dl1b_dirs),
        datacheck=sum(_count(files.files(d / "datacheck"), subrun_check) for d in dl1b_dirs),
        dl2=sum(files.exists(d / dl2_file_name(run_id)) for d in dl2_dirs),
    )


@dataclass(frozen=True)
class JobHistory:
    """What the scheduler knows of a sequence: its Slurm job ids, latest element states, its
    accounting, its Cat-B state, and (simulate mode) the completed-job counts per product."""

    job_ids: Sequence[str] = ()
    element_states: Sequence[str] = ()
    accounting: Accounting = Accounting()
    catb: str | None = None
    simulated_counts: OutputCounts | None = None


def night_progress(
    plan: NightPlan, jobs: Mapping[int, JobHistory], files: NightFiles, closed: bool = False
) -> list[RunProgress]:
    """The calibration sequence (keyed by the PEDCALIB run, seq 1) and every data run (seq 2…,
    parent 1), counted on disk unless the history brings simulated counts."""
    action = "Closed" if closed else "Check"
    calib = jobs.get(plan.pedcal.run_id, JobHistory())
    rows = [
        RunProgress(
            plan.pedcal.run_id,
            "PEDCALIB",
            1,
            "",
            calib.job_ids,
            calib.element_states,
            action=action,
            accounting=calib.accounting,
            borrowed_from=None if plan.pedcal.night == plan.night else plan.pedcal.night,
        )
    ]
    for seq, run in enumerate(plan.data_runs, start=2):
        history = jobs.get(run.run_id, JobHistory())
        counts = history.simulated_counts or count_outputs(files, plan.paths, run.run_id)
        rows.append(
            RunProgress(
                run.run_id,
                "DATA",
                run.n_subruns,
                run.source.name,
                history.job_ids,
                history.element_states,
                counts,
                seq=seq,
                parent=1,
                action=action,
                accounting=history.accounting,
                catb=history.catb,
            )
        )
    return rows
