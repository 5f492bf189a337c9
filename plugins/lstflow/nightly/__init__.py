"""The nightly onsite analysis: the per-night DAG, its step operator, timetable and status."""
