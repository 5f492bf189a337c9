"""Stage order and dependencies, as lstmcpipe wires its ``afterok`` barriers.

r0_to_dl1/dl1ab → train_test_split → merge_dl1 → train_pipe → (plot_rf_feat, dl1_to_dl2)
→ (dl2_to_irfs, dl2_to_sensitivity). A stage that is not run is bridged: its dependents wait on
the nearest upstream stages that are run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from lstflow.config.model import STAGE_ORDER, ProductionConfig, ProductionHeader
from lstflow.config.parts import ProductionParts
from lstflow.stages.base import PlanContext, StagePlan
from lstflow.stages.dl1_to_dl2 import DL1_TO_DL2
from lstflow.stages.dl1ab import DL1AB
from lstflow.stages.dl2_to_irfs import DL2_TO_IRFS
from lstflow.stages.dl2_to_sensitivity import DL2_TO_SENSITIVITY
from lstflow.stages.merge_dl1 import MERGE_DL1
from lstflow.stages.r0_to_dl1 import R0_TO_DL1
from lstflow.stages.train_pipe import PLOT_RF_FEAT, TRAIN_PIPE
from lstflow.stages.train_test_split import TRAIN_TEST_SPLIT

# Each stage with the stages it waits for (only among those that are run).
UPSTREAM: dict[str, tuple[str, ...]] = {
    "r0_to_dl1": (),
    "dl1ab": (),
    "train_test_split": ("r0_to_dl1", "dl1ab"),
    "merge_dl1": ("train_test_split",),
    "train_pipe": ("merge_dl1",),
    "plot_rf_feat": ("train_pipe",),
    "dl1_to_dl2": ("merge_dl1", "train_pipe"),
    "dl2_to_irfs": ("dl1_to_dl2",),
    "dl2_to_sensitivity": ("dl1_to_dl2",),
}
# Stages no config names: lstmcpipe adds one plot_rf_feat job per train_pipe entry. Each runs
# with (and reads the entries of) the config stage it belongs to.
IMPLICIT_STAGES: dict[str, str] = {"plot_rf_feat": "train_pipe"}
# The config's STAGE_ORDER with each implicit stage right after the stage it belongs to.
EXECUTION_ORDER: tuple[str, ...] = tuple(
    name
    for stage in STAGE_ORDER
    for name in (stage, *(i for i, owner in IMPLICIT_STAGES.items() if owner == stage))
)


def effective_upstream(stage: str, present: Iterable[str]) -> tuple[str, ...]:
    """The run stages ``stage`` waits for, looking through the stages that are not run."""
    present_set = set(present)
    found: list[str] = []
    pending = list(UPSTREAM[stage])
    seen: set[str] = set()
    while pending:
        candidate = pending.pop(0)
        if candidate in seen:
            continue
        seen.add(candidate)
        if candidate in present_set:
            found.append(candidate)
        else:
            pending.extend(UPSTREAM[candidate])
    return tuple(sorted(set(found), key=EXECUTION_ORDER.index))


class StagePlanner(Protocol):
    @property
    def name(self) -> str: ...

    def plan(self, entries: Sequence[Any], context: PlanContext) -> StagePlan: ...


PLANNERS: dict[str, StagePlanner] = {
    planner.name: planner
    for planner in (
        R0_TO_DL1,
        DL1AB,
        TRAIN_TEST_SPLIT,
        MERGE_DL1,
        TRAIN_PIPE,
        PLOT_RF_FEAT,
        DL1_TO_DL2,
        DL2_TO_IRFS,
        DL2_TO_SENSITIVITY,
    )
}


def stages_with_implicit(stages: Iterable[str]) -> tuple[str, ...]:
    """``stages`` in execution order, with the implicit stages of those among them."""
    chosen = set(stages)
    chosen |= {implicit for implicit, owner in IMPLICIT_STAGES.items() if owner in chosen}
    return tuple(stage for stage in EXECUTION_ORDER if stage in chosen)


def stages_to_run(production: ProductionHeader | ProductionParts[Any]) -> tuple[str, ...]:
    """The production's stages in execution order, with the implicit plot_rf_feat (for the
    parts of a production: the union of theirs)."""
    return stages_with_implicit(production.stages_to_run)


def plan_stage(production: ProductionConfig, stage: str, context: PlanContext) -> StagePlan:
    entries = production.stages.get(IMPLICIT_STAGES.get(stage, stage), ())
    return PLANNERS[stage].plan(entries, context)
