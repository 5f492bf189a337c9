"""The Airflow plugin object, registered through the ``airflow.plugins`` entry point.

Every Airflow process loads plugins, the dag-processor included, so this module imports nothing
heavy: the FastAPI app is built on the api-server's first request (``LazyApp``).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from lstflow.nightly.run_note import SIMULATE_RUN_NOTE
from lstflow.nightly.timetable import NightTimetable
from lstflow.product_base.run_notes import RunNotes
from lstflow.productions.run_note import DRY_RUN_RUN_NOTE

URL_PREFIX = "/lstflow"  # lstflow.ui.app.URL_PREFIX, kept here to keep this import light

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


class LazyApp:
    """An ASGI app that builds ``lstflow.ui.app.create_app()`` when first called."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()

    def _build(self) -> ASGIApp:
        with self._lock:
            if self._app is None:
                from lstflow.ui.app import create_app

                self._app = create_app()
            return self._app

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        await (self._app or self._build())(scope, receive, send)


def external_views() -> list[dict[str, str]]:
    """Navigation entries and the DAG / DAG-run tabs that open lstflow's pages in the UI.

    The UI shows only views with a ``url_route`` (its iframe route), so each has one.
    """
    return [
        {
            "name": "Productions",
            "href": f"{URL_PREFIX}/productions",
            "destination": "nav",
            "url_route": "lstflow-productions",
            "category": "browse",
        },
        {
            "name": "Nights",
            "href": f"{URL_PREFIX}/nights",
            "destination": "nav",
            "url_route": "lstflow-nights",
            "category": "browse",
        },
        {
            "name": "lstflow",
            "href": f"{URL_PREFIX}/dags/{{DAG_ID}}",
            "destination": "dag",
            "url_route": "lstflow-dag",
        },
        {
            "name": "lstflow run",
            "href": f"{URL_PREFIX}/dags/{{DAG_ID}}/runs/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "lstflow-run",
        },
    ]


class LstflowPlugin(AirflowPlugin):
    name = "lstflow"
    fastapi_apps = [  # noqa: RUF012 (AirflowPlugin's attributes are plain class lists)
        {"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "lstflow productions and nights"}
    ]
    external_views = external_views()
    # Custom timetables must be registered for the scheduler to deserialize the DAGs using them;
    # AirflowPlugin declares this a plain class attribute, not a ClassVar.
    timetables = [NightTimetable]  # noqa: RUF012
    # Simulated nights and dry runs get a DAG-run note (lstflow.product_base.run_notes).
    listeners = [RunNotes((SIMULATE_RUN_NOTE, DRY_RUN_RUN_NOTE))]  # noqa: RUF012
