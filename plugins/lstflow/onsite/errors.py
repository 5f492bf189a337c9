"""Errors of the night planner: each message names the file, the key and a fix."""

from __future__ import annotations


class OnsiteError(Exception):
    """Base class: something about a night cannot be planned."""


class OnsiteConfigError(OnsiteError, ValueError):
    """An onsite config, exclusion file or DAG-run conf value is invalid."""

    def __init__(self, source: str, key: str, problem: str, fix: str) -> None:
        self.source = source
        self.key = key
        super().__init__(f"{source}: key {key!r}: {problem}. Fix: {fix}")


class PlanningError(OnsiteError):
    """The data of a night do not allow a plan (e.g. no calibration run within the look-back)."""
