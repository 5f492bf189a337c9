"""The Airflow plugin object, registered through the ``airflow.plugins`` entry point."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from lstflow.factory.nightly_timetable import NightTimetable


class LstflowPlugin(AirflowPlugin):
    name = "lstflow"
    # Custom timetables must be registered for the scheduler to deserialize the DAGs using them;
    # AirflowPlugin declares this a plain class attribute, not a ClassVar.
    timetables = [NightTimetable]  # noqa: RUF012
