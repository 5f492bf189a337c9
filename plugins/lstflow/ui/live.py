"""Live element states of the stages still waiting on Slurm, for the production page.

While a stage task is deferred, the operator's stored plan only changes when its trigger fires
(once per retry round), so the page asks Slurm itself through ``SlurmHook.element_states``:
one ``sacct`` for every job of the page, cached for ``CACHE_SECONDS``. Failures to reach
the cluster leave the plan's numbers as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lstflow.ui.cluster_access import BoundedCache, cluster_lock, shared_hook

CACHE_SECONDS = 15.0
log = logging.getLogger(__name__)
_cache: BoundedCache[dict[str, str]] = BoundedCache(
    CACHE_SECONDS, max_entries=256, max_size=1_000_000, size=len
)


def element_states(job_ids: Sequence[str]) -> dict[str, str]:
    """``{"<job>_<index>": "RUNNING", ...}`` for the elements of ``job_ids`` sacct knows."""
    key = tuple(sorted(set(job_ids)))
    if not key:
        return {}
    return _cache.get(key, lambda: _query(key))


def _query(job_ids: Sequence[str]) -> dict[str, str]:
    from lstflow.slurm.hook import SlurmCommandError, SlurmOutputError

    try:
        with cluster_lock:
            states = shared_hook().element_states(list(job_ids))
        return {str(element): str(status.state) for element, status in states.items()}
    except (OSError, SlurmCommandError, SlurmOutputError) as error:
        log.warning("lstflow UI: no live Slurm states for jobs %s: %s", ",".join(job_ids), error)
        return {}
