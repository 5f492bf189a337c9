"""The session's demo run as the tests see it (built by the ``demo_run`` fixture)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DemoRun:
    """The demo as ``make demo`` runs it: its data, what the terminal showed, the full log."""

    root: Path
    console: str
    log_path: Path
