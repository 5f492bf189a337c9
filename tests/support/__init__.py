"""Test helpers shared by tiers (real Airflow processes, ...)."""
