"""Entry-level lineage: which entries of earlier stages each entry's inputs come from.

lstmcpipe (and the stage graph in ``registry``) makes every entry wait for whole stages. The
config says more: an entry depends on the entries of the stages before it whose outputs its
inputs name (same path) or contain (an input directory holding an output, an input file inside
an output directory). Paths are compared after ``posixpath.normpath`` (``a//b/`` is ``a/b``), so
a trailing slash or a doubled one never hides a dependency.

Lineage groups name what a user reasons about, usually one declination: entries are grouped by
the models they lead to (training chain) or come from (DL2, IRFs, sensitivity). Entries that
feed several models' chains (e.g. the test nodes' merges every declination reads) form a shared
group; a production without models (DL1 only) is grouped by connected chains.

Pure: no Airflow, no Slurm, no file system.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lstflow.config.model import ProductionConfig
from lstflow.stages.dl1_to_dl2 import dl2_name
from lstflow.stages.registry import EXECUTION_ORDER, IMPLICIT_STAGES, UPSTREAM, stages_to_run
from lstflow.stages.train_pipe import FEATURE_IMPORTANCE_PNG

# The stages whose entries name the models they train or apply.
MODEL_FIELDS: dict[str, str] = {
    "train_pipe": "output",
    "plot_rf_feat": "output",
    "dl1_to_dl2": "path_model",
}
SHARED_BY_ALL = "shared by all"


@dataclass(frozen=True, order=True)
class EntryRef:
    """One config entry of one stage (``plot_rf_feat[i]`` is train_pipe entry i's plot)."""

    stage: str
    index: int

    def __str__(self) -> str:
        return f"{self.stage}[{self.index}]"


@dataclass(frozen=True)
class EntryPaths:
    """What one entry reads and writes, normalised; ``models`` is the models directory it
    trains or applies, if any."""

    ref: EntryRef
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    models: str | None = None


@dataclass(frozen=True)
class LineageGroup:
    """Entries a user follows together; ``models`` are the model directories behind them (one
    for a declination's chain, several for a shared group, none for a DL1-only chain)."""

    name: str
    entries: tuple[EntryRef, ...]
    models: tuple[str, ...] = ()

    @property
    def shared(self) -> bool:
        return len(self.models) > 1

    def counts(self) -> dict[str, int]:
        """Entries per stage, in stage order."""
        counts: dict[str, int] = {}
        for ref in self.entries:
            counts[ref.stage] = counts.get(ref.stage, 0) + 1
        return counts


@dataclass(frozen=True)
class ProductionLineage:
    """The entry graph of one production (only the stages it runs) and its lineage groups.

    ``upstream`` lists, per entry in stage order, the entries it depends on;
    ``external_inputs`` the inputs no entry of the run produces (they must already exist).
    """

    upstream: Mapping[EntryRef, tuple[EntryRef, ...]]
    external_inputs: Mapping[EntryRef, tuple[str, ...]]
    groups: tuple[LineageGroup, ...]

    @property
    def entries(self) -> tuple[EntryRef, ...]:
        return tuple(self.upstream)

    def group_of(self, ref: EntryRef) -> LineageGroup:
        return self._group_index[ref]

    @cached_property
    def _group_index(self) -> dict[EntryRef, LineageGroup]:
        return {ref: group for group in self.groups for ref in group.entries}

    def downstream(self, ref: EntryRef) -> frozenset[EntryRef]:
        """Every entry that depends on ``ref``, directly or not: what its failure stops."""
        children = _children(self.upstream)
        found: set[EntryRef] = set()
        pending = [ref]
        while pending:
            for child in children.get(pending.pop(), ()):
                if child not in found:
                    found.add(child)
                    pending.append(child)
        return frozenset(found)

    def ancestors(self, ref: EntryRef) -> frozenset[EntryRef]:
        """Every entry ``ref`` depends on, directly or not."""
        found: set[EntryRef] = set()
        pending = [ref]
        while pending:
            for parent in self.upstream[pending.pop()]:
                if parent not in found:
                    found.add(parent)
                    pending.append(parent)
        return frozenset(found)


def normalise(path: str) -> str:
    """The form lineage compares paths in (``posixpath.normpath``; cluster paths are POSIX)."""
    return posixpath.normpath(path)


def _paths(*values: str | None) -> tuple[str, ...]:
    return tuple(normalise(value) for value in values if value)


def _directory_io(entry: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return _paths(entry.input), _paths(entry.output)


def _split_io(entry: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return _paths(entry.input), _paths(entry.train, entry.test)


def _train_io(entry: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return _paths(entry.gamma, entry.proton), _paths(entry.output)


def _plot_io(entry: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return _paths(entry.output), _paths(posixpath.join(entry.output, FEATURE_IMPORTANCE_PNG))


def _dl2_io(entry: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # The file the planner names (not the output directory other entries may share).
    output = posixpath.join(entry.output, dl2_name(entry.input))
    return _paths(entry.input, entry.path_model), _paths(output)


def _dl2_files_io(entry: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return _paths(entry.gamma_file, entry.proton_file, entry.electron_file), _paths(entry.output)


# Per stage: an entry's (inputs, outputs), the paths its planner reads and writes.
ENTRY_IO: dict[str, Callable[[Any], tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "r0_to_dl1": _directory_io,
    "dl1ab": _directory_io,
    "train_test_split": _split_io,
    "merge_dl1": _directory_io,
    "train_pipe": _train_io,
    "plot_rf_feat": _plot_io,
    "dl1_to_dl2": _dl2_io,
    "dl2_to_irfs": _dl2_files_io,
    "dl2_to_sensitivity": _dl2_files_io,
}


def entry_paths(production: ProductionConfig) -> list[EntryPaths]:
    """Every entry of the stages the production runs, in stage order."""
    found = []
    for stage in stages_to_run(production):
        for entry in production.entries(IMPLICIT_STAGES.get(stage, stage)):
            inputs, outputs = ENTRY_IO[stage](entry)
            model_field = MODEL_FIELDS.get(stage)
            models = normalise(getattr(entry, model_field)) if model_field else None
            found.append(EntryPaths(EntryRef(stage, entry.index), inputs, outputs, models))
    return found


def _stage_ancestors(stage: str) -> frozenset[str]:
    """Stages whose outputs ``stage`` may read: its upstream stages, transitively (so a plot,
    which nothing reads, is never a producer even though it writes into the models)."""
    found: set[str] = set()
    pending = list(UPSTREAM[stage])
    while pending:
        candidate = pending.pop()
        if candidate not in found:
            found.add(candidate)
            pending.extend(UPSTREAM[candidate])
    return frozenset(found)


def _parents_of(path: str) -> Iterable[str]:
    parent = posixpath.dirname(path)
    while parent and parent != path:
        yield parent
        path, parent = parent, posixpath.dirname(parent)


class _OutputIndex:
    """Producers by output path, and by every directory that contains an output."""

    def __init__(self, entries: Iterable[EntryPaths]) -> None:
        self.exact: dict[str, list[EntryRef]] = {}
        self.under: dict[str, list[EntryRef]] = {}
        for paths in entries:
            for output in paths.outputs:
                self.exact.setdefault(output, []).append(paths.ref)
                for directory in _parents_of(output):
                    self.under.setdefault(directory, []).append(paths.ref)

    def producers(self, path: str) -> list[EntryRef]:
        """Entries whose output is ``path``, lies inside it, or is a directory holding it."""
        found = [*self.exact.get(path, ()), *self.under.get(path, ())]
        for directory in _parents_of(path):
            found.extend(self.exact.get(directory, ()))
        return found


def build_lineage(production: ProductionConfig) -> ProductionLineage:
    """The entry graph and lineage groups of ``production`` (entries already validated)."""
    entries = entry_paths(production)
    index = _OutputIndex(entries)
    upstream: dict[EntryRef, tuple[EntryRef, ...]] = {}
    external: dict[EntryRef, tuple[str, ...]] = {}
    for paths in entries:
        allowed = _stage_ancestors(paths.ref.stage)
        parents: set[EntryRef] = set()
        unmatched = []
        for path in paths.inputs:
            found = {ref for ref in index.producers(path) if ref.stage in allowed}
            if found:
                parents |= found
            else:
                unmatched.append(path)
        upstream[paths.ref] = _reduced(parents, upstream)
        if unmatched:
            external[paths.ref] = tuple(unmatched)
    groups = _groups(entries, upstream)
    return ProductionLineage(upstream, external, groups)


def _reduced(
    parents: set[EntryRef], upstream: Mapping[EntryRef, tuple[EntryRef, ...]]
) -> tuple[EntryRef, ...]:
    """``parents`` without those another parent already depends on (an input file inside an
    r0_to_dl1 output directory is the merge's output, not r0_to_dl1's): short dependency lists."""
    implied: set[EntryRef] = set()
    pending = [grand for parent in parents for grand in upstream[parent]]
    while pending:
        ref = pending.pop()
        if ref not in implied:
            implied.add(ref)
            pending.extend(upstream[ref])
    return tuple(sorted(parents - implied, key=execution_position))


def execution_position(ref: EntryRef) -> tuple[int, int]:
    """Sort key: stage execution order, then the entry's index."""
    return EXECUTION_ORDER.index(ref.stage), ref.index


def _children(upstream: Mapping[EntryRef, tuple[EntryRef, ...]]) -> dict[EntryRef, list[EntryRef]]:
    children: dict[EntryRef, list[EntryRef]] = {}
    for ref, parents in upstream.items():
        for parent in parents:
            children.setdefault(parent, []).append(ref)
    return children


def _groups(
    entries: list[EntryPaths], upstream: Mapping[EntryRef, tuple[EntryRef, ...]]
) -> tuple[LineageGroup, ...]:
    """Group entries by the models they come from, else the models they lead to."""
    own = {paths.ref: {paths.models} if paths.models else set() for paths in entries}
    down: dict[EntryRef, set[str]] = {}
    for ref in upstream:  # stage order: parents first
        down[ref] = set(own[ref]).union(*(down[parent] for parent in upstream[ref]))
    children = _children(upstream)
    up: dict[EntryRef, set[str]] = {}
    for ref in reversed(list(upstream)):
        up[ref] = set(own[ref]).union(*(up[child] for child in children.get(ref, ())))
    all_models = list(dict.fromkeys(paths.models for paths in entries if paths.models))
    labels = _distinct_labels(all_models)
    by_key: dict[tuple[str, ...], list[EntryRef]] = {}
    unmodelled: list[EntryRef] = []
    for ref in upstream:
        models = down[ref] or up[ref]
        if models:
            by_key.setdefault(tuple(m for m in all_models if m in models), []).append(ref)
        else:
            unmodelled.append(ref)
    groups = [
        LineageGroup(_models_name(key, all_models, labels), tuple(refs), key)
        for key, refs in sorted(by_key.items(), key=lambda item: (len(item[0]), item[0]))
    ]
    groups += _chains(unmodelled, entries, upstream, {group.name for group in groups})
    return tuple(groups)


def _models_name(key: tuple[str, ...], all_models: list[str], labels: dict[str, str]) -> str:
    if len(key) == 1:
        return labels[key[0]]
    if len(key) == len(all_models):
        return SHARED_BY_ALL
    return "shared: " + " + ".join(labels[model] for model in key)


def _distinct_labels(paths: list[str]) -> dict[str, str]:
    """Per path, the components that tell it from the others (``dec_2276``); one path: its
    last component."""
    if len(paths) <= 1:
        return {path: posixpath.basename(path) or path for path in paths}
    parts = {path: path.strip("/").split("/") for path in paths}
    common = set.intersection(*(set(components) for components in parts.values()))
    labels = {
        path: "/".join(part for part in components if part not in common) or path
        for path, components in parts.items()
    }
    if len(set(labels.values())) < len(labels):
        return {path: path for path in paths}
    return labels


def _chains(
    refs: list[EntryRef],
    entries: list[EntryPaths],
    upstream: Mapping[EntryRef, tuple[EntryRef, ...]],
    taken: set[str],
) -> list[LineageGroup]:
    """Entries tied to no models: one group per connected chain, named after its last output
    (with that entry added when the name is not unique, e.g. an IRF named like a declination)."""
    if not refs:
        return []
    members = set(refs)
    root = {ref: ref for ref in refs}

    def find(ref: EntryRef) -> EntryRef:
        while root[ref] != ref:
            root[ref] = root[root[ref]]
            ref = root[ref]
        return ref

    for ref in refs:
        for parent in upstream[ref]:
            if parent in members:
                root[find(ref)] = find(parent)
    chains: dict[EntryRef, list[EntryRef]] = {}
    for ref in refs:
        chains.setdefault(find(ref), []).append(ref)
    outputs = {paths.ref: paths.outputs for paths in entries}
    names = [_chain_name(chain[-1], outputs[chain[-1]]) for chain in chains.values()]
    unique = [
        name if names.count(name) == 1 and name not in taken else f"{name} ({chain[-1]})"
        for name, chain in zip(names, chains.values(), strict=True)
    ]
    return [
        LineageGroup(name, tuple(chain))
        for name, chain in zip(unique, chains.values(), strict=True)
    ]


def _chain_name(last: EntryRef, outputs: tuple[str, ...]) -> str:
    if not outputs:
        return str(last)
    name = posixpath.basename(outputs[0])
    for suffix in (".gz", ".fits", ".h5", ".png"):
        name = name.removesuffix(suffix)
    return name or str(last)
