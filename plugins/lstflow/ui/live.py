"""Live element states of the stages still waiting on Slurm, for the production page.

While a stage task is deferred, the operator's stored plan only changes when its trigger fires
(once per retry round), so the page asks Slurm itself through ``SlurmHook.element_states``:
one ``sacct`` for every job of the page, cached for ``CACHE_SECONDS``. Failures to reach
the cluster leave the plan's numbers as they are.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from lstflow.product_base.options import ssh_conn_id

CACHE_SECONDS = 15.0
log = logging.getLogger(__name__)
_cache: dict[tuple[str, ...], tuple[float, dict[str, str]]] = {}
_lock = threading.Lock()


def element_states(job_ids: Sequence[str]) -> dict[str, str]:
    """``{"<job>_<index>": "RUNNING", ...}`` for the elements of ``job_ids`` sacct knows."""
    key = tuple(sorted(set(job_ids)))
    if not key:
        return {}
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    states = _query(key)
    with _lock:
        _cache[key] = (now, states)
    return states


def _query(job_ids: Sequence[str]) -> dict[str, str]:
    from lstflow.slurm.hook import SlurmCommandError, SlurmHook, SlurmOutputError

    try:
        states = SlurmHook(ssh_conn_id()).element_states(list(job_ids))
        return {str(element): str(status.state) for element, status in states.items()}
    except (OSError, SlurmCommandError, SlurmOutputError) as error:
        log.warning("lstflow UI: no live Slurm states for jobs %s: %s", ",".join(job_ids), error)
        return {}
