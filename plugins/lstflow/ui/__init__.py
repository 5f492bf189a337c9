"""Airflow UI plugin of lstflow (pages for productions and nights)."""
