"""Whether a lineage watcher adopts the feeder's jobs or submits its own (docs/lineage.md,
"Clearing one lineage reruns only it"). Pure: the watcher does the I/O.

A feeder generation (each clear of the feeder submits the whole run afresh) is adopted once by
each watcher. A watcher cleared on its own (one lineage's rerun: its map index with downstream)
finds no feeder generation newer than the one it last adopted and submits its elements itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SpecSource:
    """Where one watcher generation takes its jobs from.

    ``adopt``: the feeder's submitted plan; else the watcher's own submission.
    ``feeder_generation``: the feeder generation this watcher last adopted, kept across its own
    clears so a later one is told from a rerun.
    """

    generation: int
    adopt: bool
    feeder_generation: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpecSource:
        return cls(
            generation=int(data["generation"]),
            adopt=bool(data["adopt"]),
            feeder_generation=int(data["feeder_generation"]),
        )


def spec_source(generation: int, feeder_generation: int, previous: SpecSource | None) -> SpecSource:
    """The source of watcher ``generation``, given the feeder's latest generation and the
    record the watcher stored before (``None``: it never ran).

    A record of the same generation stands (a try that died after deciding keeps the decision).
    """
    if previous is not None and previous.generation == generation:
        return previous
    adopted = previous.feeder_generation if previous is not None else 0
    if feeder_generation > adopted:
        return SpecSource(generation, adopt=True, feeder_generation=feeder_generation)
    return SpecSource(generation, adopt=False, feeder_generation=adopted)
