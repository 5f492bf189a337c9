"""The file-name label of a DAG run: its records, manifests and renamed-aside outputs carry it.

Run ids hold characters file names should not (``:``, ``+``, ``/``), and replacing them alone
made ``rerun:1`` and ``rerun+1`` the same label, so the second run's rename replaced the first
run's renamed-aside output. The label is the sanitized id plus a short hash of the raw id:
readable, and two run ids never share one.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
HASH_CHARS = 8


def run_label(run_id: str) -> str:
    """``manual__2026-01-01T00:00:00+00:00`` → ``manual__2026-01-01T00_00_00_00_00-1a2b3c4d``."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:HASH_CHARS]
    return f"{_UNSAFE.sub('_', run_id)}-{digest}"
