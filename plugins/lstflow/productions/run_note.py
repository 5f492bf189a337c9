"""Marks dry runs of a production in the DAG run's note, as the production page does (written
by ``lstflow.product_base.run_notes``)."""

from __future__ import annotations

from typing import Any

from lstflow.product_base.run_notes import RunNote
from lstflow.productions.naming import PREFIX

DRY_RUN_NOTE = (
    "DRY RUN: nothing was submitted, written or moved; each stage's log lists its lstchain "
    "commands and what each overwrite policy would do"
)


def _dry_run(dag_id: str, conf: Any) -> bool:
    return dag_id.startswith(PREFIX) and isinstance(conf, dict) and conf.get("dry_run") is True


DRY_RUN_RUN_NOTE = RunNote(DRY_RUN_NOTE, _dry_run)
