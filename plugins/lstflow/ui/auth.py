"""Who may see lstflow's pages: any user Airflow's auth manager lets read DAGs.

Plugin FastAPI apps are mounted on the api-server without Airflow's authentication, so every
route of the app depends on this. It reuses Airflow's own dependencies: the JWT comes from the
``Authorization: Bearer`` header or the UI's ``_token`` cookie (what the browser sends to an
external view's iframe); missing or expired gives 401, invalid 403, not allowed to read DAGs 403.
"""

from __future__ import annotations

from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends
from fastapi.params import Depends as DependsMarker


def require_dag_reader() -> DependsMarker:
    """A dependency for every route: an authenticated user allowed to read DAGs."""
    return Depends(requires_access_dag("GET"))
