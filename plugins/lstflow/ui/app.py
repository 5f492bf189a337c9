"""lstflow's FastAPI app, mounted by the api-server under ``URL_PREFIX`` behind Airflow's auth.

Every route depends on ``require_user`` (the api-server does not protect plugin apps) and checks
the DAG it shows through ``DagAccess``: a production's page its DAG, the Nights page the nightly
DAG; the Productions list keeps the DAGs the user may read.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from lstflow.productions.naming import dag_id_for
from lstflow.ui import run_files, views
from lstflow.ui.auth import DagAccessDep, refuse_or_login, require_user
from lstflow.ui.nights import NIGHTLY_DAG_ID
from lstflow.ui.plugin import URL_PREFIX
from lstflow.ui.production_rows import invalid_entry_rows, production_for_dag, read_library
from lstflow.ui.render import render

#: A plot URL's file version (``run_files.plot_views``): a short token, nothing else is kept.
PlotVersion = Annotated[str | None, Query(pattern=run_files.VERSION_PATTERN)]


def _bases(request: Request) -> dict[str, str]:
    """This app's URL root and the Airflow UI's, whatever base path the api-server has."""
    base = str(request.scope.get("root_path", "")).rstrip("/")
    airflow_base = base.removesuffix(URL_PREFIX)
    return {"base": base, "airflow_base": airflow_base}


def _page(request: Request, template: str, values: dict[str, Any]) -> HTMLResponse:
    return HTMLResponse(render(template, **_bases(request), **values))


def _page_of_dag(request: Request, dag_id: str, run_id: str | None) -> str:
    base = _bases(request)["base"]
    if dag_id == NIGHTLY_DAG_ID:
        return f"{base}/nights"
    library = read_library()
    production = production_for_dag(library, dag_id)
    if production is None:
        invalid = [row for row in invalid_entry_rows(library) if row.dag_id == dag_id]
        if invalid:
            raise views.NotFound(
                f"Production {invalid[0].prod_id}: its config has invalid entries, so its "
                f"stages fail until it is fixed:\n{invalid[0].problem}"
            )
        raise views.NotFound(f"DAG {dag_id!r} is not an lstflow production")
    query = f"?{urlencode({'run_id': run_id})}" if run_id else ""
    return f"{base}/productions/{quote(production.prod_id)}{query}"


def create_app() -> FastAPI:
    app = FastAPI(
        title="lstflow",
        description="Productions, nights and provenance of the LST-1 analysis chain",
        dependencies=[require_user()],
        # FastAPI's docs routes would bypass the app's dependencies: none are served.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    app.add_exception_handler(HTTPException, refuse_or_login)  # type: ignore[arg-type]

    @app.exception_handler(views.NotFound)
    async def not_found(request: Request, error: views.NotFound) -> Response:
        # A page (an "lstflow" tab, a link) gets a page; an API client gets JSON.
        if "text/html" in request.headers.get("accept", ""):
            html = render("not_found.html", **_bases(request), message=str(error))
            return HTMLResponse(html, status_code=404)
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{_bases(request)['base']}/productions")

    @app.get("/productions", response_class=HTMLResponse)
    def productions(request: Request, access: DagAccessDep) -> HTMLResponse:
        return _page(request, "productions.html", views.productions_page(access.readable))

    @app.get("/productions/{prod_id}", response_class=HTMLResponse)
    def production(
        request: Request, access: DagAccessDep, prod_id: str, run_id: str | None = None
    ) -> HTMLResponse:
        access.check(dag_id_for(prod_id))
        return _page(request, "production.html", views.production_page(prod_id, run_id))

    @app.get("/productions/{prod_id}/plots/{name}")
    def plot(access: DagAccessDep, prod_id: str, name: str, v: PlotVersion = None) -> Response:
        """``v``: the file's version token from the page, so a URL never shows other bytes
        (kept by the browser); without it the browser asks again each time."""
        access.check(dag_id_for(prod_id))
        cache = "private, max-age=31536000, immutable" if v else "private, no-cache"
        return Response(
            views.plot_bytes(prod_id, name, v),
            media_type="image/png",
            headers={"Cache-Control": cache},
        )

    @app.get("/productions/{prod_id}/provenance.json")
    def provenance(access: DagAccessDep, prod_id: str, run_id: str) -> JSONResponse:
        access.check(dag_id_for(prod_id))
        return JSONResponse(views.provenance_document(prod_id, run_id))

    @app.get("/nights", response_class=HTMLResponse)
    def nights(request: Request, access: DagAccessDep) -> HTMLResponse:
        access.check(NIGHTLY_DAG_ID)
        return _page(request, "nights.html", views.nights_page())

    @app.get("/dags/{dag_id}", include_in_schema=False)
    def dag_link(request: Request, access: DagAccessDep, dag_id: str) -> RedirectResponse:
        """Where the DAG tab of the Airflow UI lands: the production's page, or the nights."""
        access.check(dag_id)
        return RedirectResponse(_page_of_dag(request, dag_id, None))

    @app.get("/dags/{dag_id}/runs/{run_id}", include_in_schema=False)
    def run_link(
        request: Request, access: DagAccessDep, dag_id: str, run_id: str
    ) -> RedirectResponse:
        """Where the DAG-run tab lands (the run id is a path part: it holds '+' and ':')."""
        access.check(dag_id)
        return RedirectResponse(_page_of_dag(request, dag_id, run_id))

    return app
