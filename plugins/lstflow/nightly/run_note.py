"""Marks simulated nights in the DAG run's note, as the status table and the Nights page do
(written by ``lstflow.product_base.run_notes``)."""

from __future__ import annotations

from typing import Any

from lstflow.product_base.run_notes import RunNote

SIMULATE_NOTE = "SIMULATE: every job printed its command instead of running it; no outputs"


def simulated(conf: Any) -> bool:
    return isinstance(conf, dict) and conf.get("simulate") is True


def _simulated_night(dag_id: str, conf: Any) -> bool:
    from lstflow.nightly.night_dag import DAG_ID

    return dag_id == DAG_ID and simulated(conf)


SIMULATE_RUN_NOTE = RunNote(SIMULATE_NOTE, _simulated_night)
