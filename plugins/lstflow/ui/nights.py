"""The Nights page's data: the night status documents of the nightly DAG's runs.

The nightly DAG's last task (``night_status``) writes ``night_status.json`` next to the night's
outputs and returns the same document as its XCom, in the format of
``lstflow.onsite.status.status_json``: ``{night, prod_id, columns, runs: [{run, type, subruns,
source, tries, job_id, state, dl1_pct, dl1ab_pct, datacheck_pct, dl2_pct, ...}], night_steps}``.
The page reads the XComs, so it needs no access to the onsite filesystem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lstflow.ui.airflow_db import RunInfo, xcom_values

NIGHTLY_DAG_ID = "lstflow_nightly"
STATUS_TASK_ID = "night_status"


def is_status_document(value: Any) -> bool:
    return isinstance(value, Mapping) and {"night", "columns", "runs"} <= set(value)


def night_statuses(limit: int = 30) -> list[tuple[RunInfo, Mapping[str, Any]]]:
    """(run, status document) of the newest nightly runs that wrote one, newest first."""
    found = xcom_values(NIGHTLY_DAG_ID, STATUS_TASK_ID, limit=limit)
    return [(run, value) for run, value in found if is_status_document(value)]
