"""Notes on DAG runs that Airflow's UI shows in its run list and grid: a dry run, a simulated
night.

A task cannot write its run's note (Task SDK 1.3 has no such call; apache/airflow#69403 proposes
one), so an Airflow listener does: the scheduler calls ``on_dag_run_running`` with the run in
its own session when the run starts, and ``on_dag_run_success``/``on_dag_run_failed`` when it
ends (``dag.test()`` calls only these). The first note that applies is written once, unless
someone already wrote one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow.listeners import hookimpl


@dataclass(frozen=True)
class RunNote:
    """``text`` for the runs ``applies(dag_id, conf)`` picks."""

    text: str
    applies: Callable[[str, Any], bool]


class RunNotes:
    """The listener the lstflow plugin registers, with the notes of both products."""

    def __init__(self, notes: Sequence[RunNote]) -> None:
        self.notes = tuple(notes)

    def write(self, dag_run: Any) -> None:
        """In the caller's session (the scheduler's); a run the caller holds detached from
        any session (``dag.test()``) is noted through a session of its own."""
        from sqlalchemy import inspect

        state = inspect(dag_run)
        if state.session is not None or state.identity is None:
            self._note(dag_run)
            return
        from airflow.utils.session import create_session

        with create_session() as session:
            attached = session.get(type(dag_run), state.identity)
            if attached is not None:
                self._note(attached)

    def _note(self, dag_run: Any) -> None:
        if dag_run.note:
            return
        for note in self.notes:
            if note.applies(dag_run.dag_id, dag_run.conf):
                dag_run.note = note.text
                return

    @hookimpl
    def on_dag_run_running(self, dag_run: Any, msg: str) -> None:
        self.write(dag_run)

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        self.write(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        self.write(dag_run)
