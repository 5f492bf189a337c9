"""Who may see what on lstflow's pages: Airflow's auth manager decides, per DAG.

Plugin FastAPI apps are mounted on the api-server without Airflow's authentication, so every
route of the app depends on ``require_user``: the JWT comes from the ``Authorization: Bearer``
header or the UI's ``_token`` cookie (what the browser sends to an external view's iframe);
missing or expired gives 401, invalid 403, a user who may read no DAG 403. A browser asking for
a page without a session is sent to the auth manager's login page instead.

Each route then checks the DAG(s) it shows, as Airflow's own API does: a production's page
checks the production's DAG (``mc_<prod_id>``), the Nights page the nightly DAG, lists keep
only the DAGs the user may read. The DAG id always comes from what the page shows, never from
the query string, and a DAG's team (its bundle's) is passed along, so multi-team deployments
keep teams apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep
from airflow.models.dag import DagModel
from fastapi import Depends, Request, status
from fastapi.params import Depends as DependsMarker
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException


@dataclass(frozen=True)
class DagAccess:
    """The request's user and the auth manager's answers about it, DAG by DAG."""

    user: BaseUser

    def may_read(self, dag_id: str | None) -> bool:
        """Whether the user may read ``dag_id`` (``None``: some DAG)."""
        team = DagModel.get_team_name(dag_id) if dag_id else None
        return bool(
            get_auth_manager().is_authorized_dag(
                method="GET",
                details=DagDetails(id=dag_id, team_name=team) if dag_id else None,
                user=self.user,
            )
        )

    def check(self, dag_id: str) -> None:
        """403 unless the user may read ``dag_id``."""
        if not self.may_read(dag_id):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"Forbidden: DAG {dag_id}")

    def readable(self, dag_ids: Iterable[str]) -> set[str]:
        """The ids among ``dag_ids`` the user may read (one auth-manager call per team)."""
        wanted = set(dag_ids)
        by_team: dict[str | None, set[str]] = {}
        for dag_id in wanted:
            by_team.setdefault(DagModel.get_team_name(dag_id), set()).add(dag_id)
        return {
            dag_id
            for team, ids in by_team.items()
            for dag_id in get_auth_manager().filter_authorized_dag_ids(
                dag_ids=ids,
                user=self.user,
                method="GET",
                team_name=team,
            )
        }


def dag_access(user: GetUserDep) -> DagAccess:
    """The request's ``DagAccess``, once the user was authenticated (FastAPI resolves it once
    per request, for the app's dependency and the route's alike)."""
    return DagAccess(user)


DagAccessDep = Annotated[DagAccess, Depends(dag_access)]


def _some_dag_reader(access: DagAccessDep) -> None:
    if not access.may_read(None):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")


def require_user() -> DependsMarker:
    """A dependency for every route: an authenticated user allowed to read some DAG."""
    return Depends(_some_dag_reader)


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
