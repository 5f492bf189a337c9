"""Lineage at the level Slurm sees: which work items (array elements) each work item waits for.

``lineage`` relates config entries; planners turn entries into work items, not always one to
one (a file-batch entry becomes several items, dl1_to_dl2 runs up to ten entries in one item).
An item waits for every item holding an entry its own entries depend on, and belongs to the
lineage group of its entries. This is what a lineage-aware run submits Slurm dependencies from
(docs/lineage.md); pure, like the planners.

Items are matched to entries by their keys, which the planners write as ``stage[i]``,
``stage[i].batch`` (file batches) or ``stage[i,j,k]`` (grouped entries); ``entries_of_key``
is the one reader of that format, and its test checks it against every planner.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lstflow.stages.base import StagePlan
from lstflow.stages.lineage import EntryRef, ProductionLineage, execution_position

_ITEM_KEY = re.compile(r"^(?P<stage>\w+)\[(?P<indices>\d+(?:,\d+)*)\](?:\.\d+)?$")


class ItemKeyError(ValueError):
    """A work item key that does not name its stage's entries (a planner bug)."""


def entries_of_key(key: str) -> tuple[EntryRef, ...]:
    """The config entries a work item runs, from its key."""
    match = _ITEM_KEY.match(key)
    if match is None:
        raise ItemKeyError(f"work item key {key!r} does not name entries (stage[i], ...)")
    stage = match["stage"]
    return tuple(EntryRef(stage, int(index)) for index in match["indices"].split(","))


@dataclass(frozen=True)
class ElementNode:
    """One work item of a stage plan, with its lineage group and the items it waits for."""

    stage: str
    key: str
    entries: tuple[EntryRef, ...]
    lineage: str
    upstream: tuple[str, ...]


def element_graph(
    lineage: ProductionLineage, plans: Mapping[str, StagePlan]
) -> dict[str, ElementNode]:
    """Per work item key (every item of ``plans``, in their order), its node."""
    items_of: dict[EntryRef, list[str]] = {}
    entries_of: dict[str, tuple[EntryRef, ...]] = {}
    for plan in plans.values():
        for item in plan.items:
            entries = entries_of_key(item.key)
            if any(entry.stage != plan.stage for entry in entries):
                raise ItemKeyError(f"{plan.stage}: work item {item.key!r} names another stage")
            entries_of[item.key] = entries
            for entry in entries:
                items_of.setdefault(entry, []).append(item.key)
    nodes: dict[str, ElementNode] = {}
    for plan in plans.values():
        for item in plan.items:
            entries = entries_of[item.key]
            waits_for = {parent for entry in entries for parent in lineage.upstream[entry]}
            ordered = sorted(waits_for, key=execution_position)
            upstream = [key for parent in ordered for key in items_of.get(parent, ())]
            groups = dict.fromkeys(lineage.group_of(entry).name for entry in entries)
            nodes[item.key] = ElementNode(
                stage=plan.stage,
                key=item.key,
                entries=entries,
                lineage=" + ".join(groups),
                upstream=tuple(dict.fromkeys(upstream)),
            )
    return nodes
