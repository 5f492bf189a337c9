"""Problems found in a production config, in the one format users see everywhere.

Every problem reads ``<file>: <yaml.path[idx]>: <problem> (<fix>)`` so a pull-request reviewer can
jump to the entry and knows what to type; all problems of a file are collected, not just the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem: ``path`` is the YAML path (``stages.merge_dl1[3]``), empty for the document;
    ``line`` and ``column`` (1-based) where it is in the file, when known."""

    path: str
    message: str
    fix: str | None = None
    line: int | None = None
    column: int | None = None

    def format(self, file: Path | str) -> str:
        where = f"{file}: {self.path}: " if self.path else f"{file}: "
        return where + self.message + (f" ({self.fix})" if self.fix else "")

    def to_json(self, file: Path | str) -> dict[str, str | int | None]:
        return {
            "path": self.path,
            "message": self.message,
            "fix": self.fix,
            "line": self.line,
            "column": self.column,
            "text": self.format(file),
        }


@dataclass(frozen=True, slots=True)
class ConfigWarning(ConfigIssue):
    """A problem that does not stop the production (deprecated or ignored keys)."""


class ConfigError(Exception):
    """A production config that cannot be used; ``issues`` lists every problem found."""

    def __init__(self, path: Path, issues: Sequence[ConfigIssue]) -> None:
        self.path = path
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__("\n".join(issue.format(path) for issue in self.issues))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[Path, list[ConfigIssue]]]:
        return (ConfigError, (self.path, self.issues))


def did_you_mean(word: str, choices: Iterable[str], what: str = "allowed keys") -> str:
    """The fix for a misspelt name: the closest choice, or the full list when nothing is close."""
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"{what}: {', '.join(options)}"
