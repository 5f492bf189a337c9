"""Per-lineage progress of a production run: for each lineage group (e.g. a declination), how
many of its elements each stage has done, failed or still runs.

Each stage task stores its spec (the work items, with keys naming their config entries) and its
plan (element states); its final ``SlurmReport`` names the failed items. An item's lineage group
is its entries' (``lstflow.stages.lineage``). A stage not planned yet shows its group's entry
count. Pure functions, read through the Slurm layer's public surface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lstflow.slurm.array_plan import ArrayPlan
from lstflow.slurm.reports import FAILURE_XCOM_KEY, SlurmReport
from lstflow.stages.element_graph import entries_of_key
from lstflow.stages.lineage import ProductionLineage
from lstflow.workitems import ArraySpec

DONE = "done"
FAILED = "failed"
IN_SLURM = "in_slurm"
WAITING = "waiting"


@dataclass(frozen=True)
class StageRecord:
    """What the metadata DB holds for one stage task: its spec, plans and XComs."""

    spec: ArraySpec | None = None
    plans: Sequence[ArrayPlan] = ()
    xcoms: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class LineageCell:
    """One group's elements in one stage; ``planned`` False: only its entries are known."""

    total: int = 0
    done: int = 0
    failed: int = 0
    in_slurm: int = 0
    planned: bool = True

    @property
    def percent_done(self) -> float:
        return round(100.0 * self.done / self.total, 1) if self.total else 0.0


@dataclass(frozen=True)
class LineageRow:
    group: str
    cells: dict[str, LineageCell]


def item_outcomes(record: StageRecord, live: Mapping[str, str]) -> dict[str, str]:
    """Per work item key of the stage: done, failed, in Slurm or waiting to be submitted."""
    if record.spec is None:
        return {}
    keys = [item.key for item in record.spec.items]
    for xcom_key in ("return_value", FAILURE_XCOM_KEY):
        report = SlurmReport.parse(record.xcoms.get(xcom_key))
        if report is not None:
            failed = {element.key for element in report.failed}
            return {key: FAILED if key in failed else DONE for key in keys}
    outcomes = dict.fromkeys(keys, WAITING)
    if record.plans:
        for element in record.plans[-1].elements:
            key = keys[element.item]
            if element.final:
                outcomes[key] = DONE if element.state == "COMPLETED" else FAILED
            elif element.job_id is not None:
                completed = live.get(str(element.element_id)) == "COMPLETED"
                outcomes[key] = DONE if completed else IN_SLURM
    return outcomes


def lineage_rows(
    lineage: ProductionLineage,
    stages: Sequence[str],
    records: Mapping[str, StageRecord],
    live: Mapping[str, str] | None = None,
) -> list[LineageRow]:
    """One row per lineage group, one cell per stage in ``stages`` (empty cells included)."""
    rows = {
        group.name: LineageRow(group.name, {s: LineageCell() for s in stages})
        for group in lineage.groups
    }
    for stage in stages:
        record = records.get(stage, StageRecord())
        if record.spec is None:
            for group in lineage.groups:
                entries = group.counts().get(stage, 0)
                rows[group.name].cells[stage] = LineageCell(total=entries, planned=False)
            continue
        for key, outcome in item_outcomes(record, live or {}).items():
            name = lineage.group_of(entries_of_key(key)[0]).name
            cell = rows[name].cells[stage]
            cell.total += 1
            if outcome == DONE:
                cell.done += 1
            elif outcome == FAILED:
                cell.failed += 1
            elif outcome == IN_SLURM:
                cell.in_slurm += 1
    return list(rows.values())
