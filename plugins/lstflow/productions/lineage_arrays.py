"""A lineage-aware run's job arrays: one per (stage, lineage group), each submitted with Slurm
dependencies on the array elements it waits for (docs/lineage.md, "Submitting with
dependencies"). Pure: the feeder does the I/O.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lstflow.slurm.elements import ElementId
from lstflow.stages.element_graph import ElementNode
from lstflow.workitems import ArraySpec, WorkItem


@dataclass(frozen=True)
class LineageArray:
    """The work items of one stage in one lineage group, and the item keys they wait for."""

    stage: str
    group: str
    spec: ArraySpec
    upstream: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "group": self.group,
            "spec": self.spec.to_json(),
            "upstream": list(self.upstream),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LineageArray:
        return cls(
            stage=str(data["stage"]),
            group=str(data["group"]),
            spec=ArraySpec.from_json(data["spec"]),
            upstream=tuple(data["upstream"]),
        )


def cut_arrays(
    stage_items: Mapping[str, Sequence[WorkItem]],
    nodes: Mapping[str, ElementNode],
    template: Mapping[str, ArraySpec],
) -> list[LineageArray]:
    """Per stage (in ``stage_items``' order), one array per lineage group of its items.

    ``template``: per stage, the spec whose settings (log dir, prologue, throttle) each of its
    arrays keeps. An array's ``upstream`` is the union of its items' upstream item keys, minus
    the items of the same array.
    """
    arrays = []
    for stage, items in stage_items.items():
        groups: dict[str, list[WorkItem]] = {}
        for item in items:
            groups.setdefault(nodes[item.key].lineage, []).append(item)
        for group, members in groups.items():
            own = {item.key for item in members}
            upstream = dict.fromkeys(
                key for item in members for key in nodes[item.key].upstream if key not in own
            )
            spec = template[stage]
            arrays.append(
                LineageArray(
                    stage,
                    group,
                    ArraySpec(
                        name=stage,
                        items=tuple(members),
                        log_dir=spec.log_dir,
                        workdir=spec.workdir,
                        prologue=spec.prologue,
                        env=spec.env,
                        throttle=spec.throttle,
                    ),
                    tuple(upstream),
                )
            )
    return arrays


def group_names(arrays: Iterable[LineageArray]) -> list[str]:
    """Lineage groups in the order their first array appears: the mapped task group's list."""
    return list(dict.fromkeys(array.group for array in arrays))


def queue_has_room(pending: int, size: int, cap: int) -> bool:
    """May ``size`` more jobs be queued beside ``pending`` under the cap (0: none)? An empty
    queue always takes the next array, even one larger than the cap, so a run never stalls."""
    return not cap or not pending or pending + size <= cap


def group_nice(arrays: Sequence[LineageArray], step: int) -> dict[str, int]:
    """Per lineage group, its jobs' Slurm ``--nice``: ``step`` times the position of the first
    group (in ``group_names`` order) that needs its work, directly or not; shared work (the
    test merges every declination reads) thus goes with the first group.

    Slurm starts the highest priority ready job first, so a full cluster finishes lineages one
    after another, in config order, instead of all of them late (``lineage_nice_step``).
    """
    order = group_names(arrays)
    group_of = {item.key: array.group for array in arrays for item in array.spec.items}
    needed_by = {group: {group} for group in order}
    for array in arrays:
        for key in array.upstream:
            if key in group_of:
                needed_by[group_of[key]].add(array.group)
    changed = True
    while changed:  # the work a group needs, and the work that work needs, and so on
        changed = False
        for group, users in needed_by.items():
            wider = users.union(*(needed_by[user] for user in users))
            if wider != users:
                needed_by[group], changed = wider, True
    rank = {group: position for position, group in enumerate(order)}
    return {group: step * min(rank[user] for user in needed_by[group]) for group in order}


def dependency_option(
    upstream: Iterable[str], located: Mapping[str, ElementId], job_sizes: Mapping[str, int]
) -> str | None:
    """``afterok:<job>_<i>:...`` on the upstream elements submitted in this run, or ``None``.

    ``located``: the submitted element of each item key (an upstream item not there is already
    done, e.g. skipped because its outputs exist, and needs no dependency). A job all of whose
    elements are needed is named whole (``afterok:<job>``), keeping the option short.
    """
    needed: dict[str, list[ElementId]] = {}
    for key in upstream:
        element = located.get(key)
        if element is not None:
            needed.setdefault(element.job_id, []).append(element)
    if not needed:
        return None
    parts = []
    for job_id, elements in needed.items():
        whole = len(set(elements)) == job_sizes.get(job_id)
        parts.extend([job_id] if whole else sorted({str(e) for e in elements}))
    return "afterok:" + ":".join(parts)


class ProducedPaths:
    """The outputs a run's planned items write, to tell inputs made in the run from the rest."""

    def __init__(self, outputs: Iterable[str]) -> None:
        self.outputs = frozenset(posixpath.normpath(path) for path in outputs)
        self.holders = frozenset(parent for path in self.outputs for parent in _parents(path))

    def produces(self, path: str) -> bool:
        """An output, a directory holding one, or a path inside an output directory."""
        normal = posixpath.normpath(path)
        if normal in self.outputs or normal in self.holders:
            return True
        return any(parent in self.outputs for parent in _parents(normal))


def _parents(path: str) -> Iterable[str]:
    parent = posixpath.dirname(path)
    while parent not in ("/", ""):
        yield parent
        parent = posixpath.dirname(parent)
