"""Runs and subruns left out of a night, from a versioned exclusion file.

lstosa excluded data by editing the RunSummary in place (``EDATA``, decremented ``n_subruns``);
here the exclusions are a reviewed YAML file with a reason per entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lstflow.onsite.errors import OnsiteConfigError


@dataclass(frozen=True)
class Exclusion:
    """A whole run (``subruns`` empty) or some of its subruns."""

    run_id: int
    subruns: frozenset[int]
    reason: str

    @property
    def whole_run(self) -> bool:
        return not self.subruns


@dataclass(frozen=True)
class NightExclusions:
    """The exclusions of one night."""

    entries: tuple[Exclusion, ...] = ()

    def run_excluded(self, run_id: int) -> bool:
        return any(e.run_id == run_id and e.whole_run for e in self.entries)

    def excluded_subruns(self, run_id: int) -> frozenset[int]:
        return frozenset(s for e in self.entries if e.run_id == run_id for s in e.subruns)


def _night_key(key: Any, source: str) -> dt.date:
    if isinstance(key, dt.date):
        return key
    try:
        return dt.date.fromisoformat(str(key))
    except ValueError:
        raise OnsiteConfigError(
            source, f"nights.{key}", "not a date", "write the night as YYYY-MM-DD in quotes"
        ) from None


def _entry(raw: Any, source: str, where: str) -> Exclusion:
    if not isinstance(raw, dict):
        raise OnsiteConfigError(
            source, where, f"expected a mapping, got {raw!r}", "write '- run: 1234' with a 'reason'"
        )
    unknown = sorted(set(raw) - {"run", "subruns", "reason"})
    if unknown:
        raise OnsiteConfigError(
            source, f"{where}.{unknown[0]}", "unknown key", "use only run, subruns and reason"
        )
    run_id, subruns, reason = raw.get("run"), raw.get("subruns", []), raw.get("reason")
    if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id < 0:
        raise OnsiteConfigError(
            source,
            f"{where}.run",
            f"expected a run number, got {run_id!r}",
            "give the run id as an integer",
        )
    if not isinstance(subruns, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in subruns
    ):
        raise OnsiteConfigError(
            source,
            f"{where}.subruns",
            f"expected subrun numbers, got {subruns!r}",
            "give a list of integers, or omit it to exclude the whole run",
        )
    if not isinstance(reason, str) or not reason.strip():
        raise OnsiteConfigError(
            source,
            f"{where}.reason",
            "every exclusion needs a reason",
            "add 'reason: <why this data is left out>'",
        )
    return Exclusion(run_id=run_id, subruns=frozenset(subruns), reason=reason.strip())


def load_exclusions(path: Path) -> dict[dt.date, NightExclusions]:
    """All nights of an exclusion file; a missing file is an error (it is part of the config)."""
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise OnsiteConfigError(
            source,
            "<file>",
            f"cannot read YAML ({exc})",
            "fix the file or point 'exclusions' of the onsite config to it",
        ) from exc
    nights = raw.get("nights") if isinstance(raw, dict) else None
    if not isinstance(nights, dict):
        raise OnsiteConfigError(
            source,
            "nights",
            "missing or not a mapping",
            "write 'nights: {}' or a mapping of night → list of exclusions",
        )
    result = {}
    for key, entries in nights.items():
        night = _night_key(key, source)
        if not isinstance(entries, list):
            raise OnsiteConfigError(
                source,
                f"nights.{key}",
                "expected a list of exclusions",
                "write each exclusion as '- run: ...'",
            )
        result[night] = NightExclusions(
            tuple(_entry(e, source, f"nights.{key}[{i}]") for i, e in enumerate(entries))
        )
    return result
