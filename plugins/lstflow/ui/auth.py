"""Who may see lstflow's pages: any user Airflow's auth manager lets read DAGs.

Plugin FastAPI apps are mounted on the api-server without Airflow's authentication, so every
route of the app depends on this. It reuses Airflow's own dependencies: the JWT comes from the
``Authorization: Bearer`` header or the UI's ``_token`` cookie (what the browser sends to an
external view's iframe); missing or expired gives 401, invalid 403, not allowed to read DAGs 403.
A browser asking for a page without a session is sent to the auth manager's login page instead.
"""

from __future__ import annotations

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, Request, status
from fastapi.params import Depends as DependsMarker
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException


def require_dag_reader() -> DependsMarker:
    """A dependency for every route: an authenticated user allowed to read DAGs."""
    return Depends(requires_access_dag("GET"))


def wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


async def refuse_or_login(request: Request, error: HTTPException) -> Response:
    """401 for API clients; a redirect to the login page (and back) for a browser."""
    if error.status_code == status.HTTP_401_UNAUTHORIZED and wants_html(request):
        login = get_auth_manager().get_url_login(next_url=str(request.url))
        return RedirectResponse(login, status_code=status.HTTP_303_SEE_OTHER)
    return JSONResponse(
        {"detail": error.detail}, status_code=error.status_code, headers=error.headers
    )
