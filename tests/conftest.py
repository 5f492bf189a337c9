"""Shared test configuration (pytest puts tests/ on sys.path for the support package)."""
