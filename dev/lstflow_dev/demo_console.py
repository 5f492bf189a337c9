"""What ``make demo`` shows a person: progress per production and stage, not Airflow's logs.

Every byte the demo's processes write (Airflow, asyncssh, lstchain, subprocesses) goes to a log
file, redirected at the file-descriptor level so nothing escapes; the terminal gets one line
when a stage starts, moves or ends, read from the metadata DB the way the lstflow pages read it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from lstflow.productions.naming import dag_id_for
from lstflow.ui.progress import StageProgress
from lstflow_dev import demo

BAR_WIDTH = 20
#: A stage's progress line is repeated at most this often while only its counts move.
MIN_REPEAT_SECONDS = 5.0


@contextmanager
def output_to_log(log_path: Path) -> Iterator[None]:
    """Send fds 1 and 2 (so everything the demo and its subprocesses write) to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    streams = (sys.stdout, sys.stderr)
    with log_path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    # Python-level streams too: they may not be fds 1 and 2 (a test runner's capture).
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    try:
        yield
    finally:
        sys.stdout.close()
        sys.stderr.close()
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def terminal() -> TextIO:
    """The terminal as it is now (a duplicate of fd 1), for writing while fd 1 is the log."""
    return os.fdopen(os.dup(1), "w", buffering=1)


def bar(fraction: float) -> str:
    filled = round(BAR_WIDTH * min(max(fraction, 0.0), 1.0))
    return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]"


RUNNING_STATES = frozenset(
    {"running", "deferred", "up_for_retry", "up_for_reschedule", "restarting"}
)
WAITING_STATES = frozenset({"scheduled", "queued", "none"})


def display_phase(task_state: str | None) -> str | None:
    """What a person sees of a task state: nothing while it waits, ``running`` while it works
    (deferred to the triggerer included), else its final state."""
    if task_state is None or task_state in WAITING_STATES:
        return None
    return "running" if task_state in RUNNING_STATES else task_state


def progress_line(progress: StageProgress) -> str:
    """``  stage  [####----]  2/5 done, 1 failed, 2 in Slurm  (running)``."""
    phase = display_phase(progress.task_state) or "waiting"
    if not progress.total:
        counts = "no Slurm work" if phase in ("success", "skipped") else "planning"
        fraction = 1.0 if phase == "success" else 0.0
    else:
        counts = f"{progress.done}/{progress.total} done"
        if progress.failed:
            counts += f", {progress.failed} failed"
        if progress.in_slurm:
            counts += f", {progress.in_slurm} in Slurm"
        fraction = progress.done / progress.total
    return f"  {progress.stage:20s} {bar(fraction)}  {counts}  ({phase})"


@dataclass
class _Shown:
    key: tuple[object, ...]
    at: float


class ProductionWatcher:
    """Prints a production run's stage progress while ``dag.test()`` runs it."""

    def __init__(self, console: TextIO, dag_id: str, poll_seconds: float = 2.0) -> None:
        self.console = console
        self.dag_id = dag_id
        self.poll_seconds = poll_seconds
        self.started = datetime.now(UTC)
        self._stop = threading.Event()
        self._shown: dict[str, _Shown] = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProductionWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll()
            except Exception as exc:  # the display must never stop the demo
                print(f"(progress display: {exc})", file=sys.stderr)

    def poll(self, *, final: bool = False) -> None:
        from lstflow.ui.airflow_db import latest_runs, run_tasks
        from lstflow.ui.progress import stage_progress

        run = latest_runs([self.dag_id]).get(self.dag_id)
        if run is None or run.start_date is None or run.start_date < self.started:
            return
        now = time.monotonic()
        for task in run_tasks(self.dag_id, run.run_id).values():
            progress = stage_progress(task.task_id, task.state, task.xcoms, task.plans)
            phase = display_phase(progress.task_state)
            if phase is None or (phase == "running" and not progress.total):
                continue  # waiting, or still planning: its counts are not known yet
            key = (phase, progress.total, progress.done, progress.failed)
            shown = self._shown.get(task.task_id)
            if shown is not None:
                if shown.key == key:
                    continue
                moving = shown.key[0] == phase == "running"
                if moving and not final and now - shown.at < MIN_REPEAT_SECONDS:
                    continue
            self._shown[task.task_id] = _Shown(key, now)
            self.console.write(progress_line(progress) + "\n")


def console_watch(console: TextIO) -> demo.Watch:
    """``run_demo``'s ``watch``: a header per step, the production's stage lines, its time."""

    @contextmanager
    def watch(step: str) -> Iterator[object]:
        started = time.monotonic()
        if step == demo.SYNTHETIC_STEP:
            console.write(f"{step}: building the synthetic DL1 set from the real DL1 files\n")
            yield None
            return
        console.write(f"{step}:\n")
        with ProductionWatcher(console, dag_id_for(step)) as watcher:
            yield watcher
        console.write(f"{step}: finished in {time.monotonic() - started:.0f} s\n")

    return watch


def run_quietly(
    data_root: Path, conf: dict[str, Any], console: TextIO, log_path: Path
) -> dict[str, str]:
    """The demo with its output in ``log_path`` and its progress on ``console``."""
    console.write(f"lstflow demo: full log in {log_path}\n")
    with output_to_log(log_path):
        try:
            states = demo.run_demo(data_root, conf, console_watch(console))
        except Exception as exc:
            console.write(f"lstflow demo failed: {exc}\nsee the full log: {log_path}\n")
            raise
    for line in report_lines(states, data_root, log_path):
        console.write(line + "\n")
    return states


def report_lines(states: dict[str, str], data_root: Path, log_path: Path | None) -> list[str]:
    """The end of the demo: each production's state, the products, how to see them."""
    lines = ["", *(f"{prod_id:24s} {state}" for prod_id, state in states.items()), ""]
    lines += [
        f"{label:24s} {path}{'' if path.exists() else '  (missing)'}"
        for label, path in demo.products(data_root).items()
    ]
    lines += [
        "",
        "See them in the Airflow UI: `make airflow`, open http://localhost:8080, then",
        "Browse > Productions (progress, plots, provenance) or a demo DAG's 'lstflow' tab.",
    ]
    if log_path is not None:
        lines.append(f"Full log: {log_path}")
    return lines
