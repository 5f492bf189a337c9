"""Marks simulated nights in the DAG run's note, as the status table and the Nights page do.

A task cannot write its run's note (the task SDK has no such call), so an Airflow listener does
it: the scheduler calls ``on_dag_run_running`` with the run in its own session when the run
starts, and the note is written there, once, unless someone already wrote one.
"""

from __future__ import annotations

from typing import Any

from airflow.listeners import hookimpl

SIMULATE_NOTE = "SIMULATE: every job printed its command instead of running it; no outputs"


def simulated(conf: Any) -> bool:
    return isinstance(conf, dict) and conf.get("simulate") is True


class SimulateRunNote:
    """The listener the lstflow plugin registers."""

    @hookimpl
    def on_dag_run_running(self, dag_run: Any, msg: str) -> None:
        from lstflow.nightly.night_dag import DAG_ID

        if dag_run.dag_id == DAG_ID and simulated(dag_run.conf) and not dag_run.note:
            dag_run.note = SIMULATE_NOTE
