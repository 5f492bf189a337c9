"""Whether a lineage watcher may submit yet (docs/lineage.md, "Watchers start together"). Pure:
the watcher asks Airflow for the task states.

Every watcher of a run starts once the feeder has submitted, and waits deferred while Slurm runs
its elements after their upstream ones: its stage's transition is Slurm's own. A watcher submits
by itself only in two cases, and both need to know how the watchers owning the upstream elements
ended first:

- elements Slurm cancelled because an upstream attempt failed (``--kill-on-invalid-dep``): rerun
  once the upstream watchers succeeded (the retry exists), not run if one of them failed;
- a watcher cleared on its own (one lineage's rerun, cleared with its upstream watchers): submit
  once the upstream watchers' new attempts succeeded, else not at all.

While an upstream watcher has not ended, the watcher waits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lstflow.productions.lineage_arrays import LineageArray, group_names

#: Airflow task states in which a watcher has ended for good.
ENDED_STATES = frozenset({"success", "skipped", "failed", "upstream_failed", "removed"})
#: Ended states whose outputs downstream elements may read (skipped: the stage did not run).
USABLE_STATES = frozenset({"success", "skipped"})


@dataclass(frozen=True)
class UpstreamWatcher:
    """The watcher of one (stage, lineage group) whose elements another array waits for."""

    stage: str
    group: str
    map_index: int

    def state_key(self, task_id: str) -> str:
        """How Airflow's ``get_task_states`` names this mapped task instance."""
        return f"{task_id}_{self.map_index}"


def upstream_watchers(
    arrays: Sequence[LineageArray], array: LineageArray
) -> tuple[UpstreamWatcher, ...]:
    """The watchers owning the items ``array`` waits for, in stage then group order. Items
    that no array holds were not planned (outputs kept by the overwrite policy): nothing to
    wait for."""
    groups = group_names(arrays)
    owner = {item.key: (other.stage, other.group) for other in arrays for item in other.spec.items}
    found = {owner[key] for key in array.upstream if key in owner}
    stage_order = list(dict.fromkeys(upstream.stage for upstream in arrays))
    return tuple(
        UpstreamWatcher(stage, group, groups.index(group))
        for stage, group in sorted(
            found, key=lambda pair: (stage_order.index(pair[0]), groups.index(pair[1]))
        )
    )


@dataclass(frozen=True)
class UpstreamVerdict:
    """How the upstream watchers stand, each named ``<stage> [<group>]``."""

    waiting: tuple[str, ...]
    failed: tuple[str, ...]

    @property
    def succeeded(self) -> bool:
        return not self.waiting and not self.failed


def upstream_verdict(
    watchers: Sequence[UpstreamWatcher],
    states: Mapping[UpstreamWatcher, str | None],
) -> UpstreamVerdict:
    """``states``: each watcher's Airflow task state (``None``: not started, or unknown)."""
    waiting, failed = [], []
    for watcher in watchers:
        state = states.get(watcher)
        label = f"{watcher.stage} [{watcher.group}]"
        if state not in ENDED_STATES:
            waiting.append(label)
        elif state not in USABLE_STATES:
            failed.append(f"{label} {state}")
    return UpstreamVerdict(tuple(waiting), tuple(failed))
