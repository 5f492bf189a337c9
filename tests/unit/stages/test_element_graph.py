"""Work-item lineage (``lstflow.stages.element_graph``): every planner's item keys read back
as their entries, and items wait for the items of their entries' upstream entries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from lstflow.config import ProductionConfig, load_production
from lstflow.stages.base import PlanContext, StagePlan
from lstflow.stages.element_graph import ItemKeyError, element_graph, entries_of_key
from lstflow.stages.lineage import SHARED_BY_ALL, EntryRef, build_lineage
from lstflow.stages.local_files import LocalFileLister
from lstflow.stages.registry import plan_stage, stages_to_run
from lstflow_dev.testdata import production_samples_dir

pytestmark = pytest.mark.unit

CHECKOUT = Path(__file__).resolve().parents[3]
DECS = ("dec_2276", "dec_3476")
NODES = ("node_corsika_theta_10.0_az_20.0_", "node_corsika_theta_30.0_az_40.0_")


class ThreeFilesPerDirectory:
    def list_directories(
        self, directories: Sequence[str], patterns: Sequence[str]
    ) -> dict[str, list[str] | None]:
        suffix = patterns[0].lstrip("*")
        return {d: [f"{d.rstrip('/')}/run{i}{suffix}" for i in (1, 2, 3)] for d in directories}


def plans_of(production: ProductionConfig, files: object) -> dict[str, StagePlan]:
    context = PlanContext(
        prod_id=production.prod_id,
        lstchain_config="/cluster/config.json",
        log_root="/cluster/logs",
        files=files,  # type: ignore[arg-type]
    )
    return {stage: plan_stage(production, stage, context) for stage in stages_to_run(production)}


def test_keys_name_entries_and_malformed_keys_are_refused() -> None:
    assert entries_of_key("merge_dl1[3]") == (EntryRef("merge_dl1", 3),)
    assert entries_of_key("r0_to_dl1[12].4") == (EntryRef("r0_to_dl1", 12),)
    assert entries_of_key("dl1_to_dl2[0,5,9]") == tuple(
        EntryRef("dl1_to_dl2", i) for i in (0, 5, 9)
    )
    for bad in ("merge_dl1", "merge_dl1[]", "merge_dl1[a]", "x[1]y"):
        with pytest.raises(ItemKeyError):
            entries_of_key(bad)


@pytest.mark.parametrize(
    "name",
    [
        "20240122_v0.10.4_prod5_trans_80",
        "20240430_v0.10.4_src9_dec3476_tuned",
        "20240716_v0.10.7_src10_dec3476_tuned",
    ],
)
def test_every_planner_item_reads_back_as_its_entries(name: str) -> None:
    (path,) = (production_samples_dir() / name).glob("*.yaml")
    production = load_production(path)
    plans = plans_of(production, ThreeFilesPerDirectory())
    graph = element_graph(build_lineage(production), plans)
    for stage, plan in plans.items():
        covered = sorted(entry.index for item in plan.items for entry in graph[item.key].entries)
        owner = "train_pipe" if stage == "plot_rf_feat" else stage
        # Each entry in exactly one item (three files make one batch per directory).
        assert covered == [entry.index for entry in production.entries(owner)]


def test_grouped_dl2_item_carries_every_entry_and_its_dependants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The demo's three DL2 entries share models and output: one item, which the IRF and the
    sensitivity wait for."""
    monkeypatch.setenv("LSTFLOW_DATA_ROOT", "/cluster/data")
    monkeypatch.setenv("LSTFLOW_ANALYSIS_ENV", "/cluster/env")
    (path,) = (CHECKOUT / "include" / "production_configs" / "demo").glob("*analysis/*.yaml")
    production = load_production(path)
    graph = element_graph(build_lineage(production), plans_of(production, None))
    dl2 = graph["dl1_to_dl2[0,1,2]"]
    assert dl2.entries == tuple(EntryRef("dl1_to_dl2", i) for i in (0, 1, 2))
    assert dl2.upstream == ("merge_dl1[2]", "merge_dl1[3]", "merge_dl1[4]", "train_pipe[0]")
    assert graph["dl2_to_irfs[0]"].upstream == ("dl1_to_dl2[0,1,2]",)
    assert graph["dl2_to_sensitivity[0]"].upstream == ("dl1_to_dl2[0,1,2]",)


def test_allsky_sample_items_wait_for_their_own_upstream_items() -> None:
    (path,) = (production_samples_dir() / "20240430_v0.10.4_src9_dec3476_tuned").glob("*.yaml")
    production = load_production(path)
    lineage = build_lineage(production)
    graph = element_graph(lineage, plans_of(production, ThreeFilesPerDirectory()))
    assert {node.lineage for node in graph.values()} == {"dec_3476"}
    split = graph["train_test_split[0]"]
    # Three files per directory: one batch per r0_to_dl1 entry, which the split waits for.
    assert split.upstream == ("r0_to_dl1[0].0",)
    assert graph["train_pipe[0]"].upstream == ("merge_dl1[0]", "merge_dl1[1]")
    assert graph["plot_rf_feat[0]"].upstream == ("train_pipe[0]",)
    for node in graph.values():
        if node.stage == "dl1_to_dl2":
            merges = {
                key
                for entry in node.entries
                for parent in lineage.upstream[entry]
                if parent.stage == "merge_dl1"
                for key in [f"merge_dl1[{parent.index}]"]
            }
            assert set(node.upstream) == merges | {"train_pipe[0]"}


def test_declinations_wait_only_for_their_own_training(
    allsky_tree: Callable[[str], Any],
) -> None:
    tree = allsky_tree("data")
    tree.add(DECS, NODES, NODES)
    production = tree.generate("AllSkyFull", DECS)
    graph = element_graph(build_lineage(production), plans_of(production, LocalFileLister()))
    trains = {node.lineage: key for key, node in graph.items() if node.stage == "train_pipe"}
    assert sorted(trains) == sorted(DECS)
    for node in graph.values():
        if node.stage == "dl1_to_dl2":
            assert node.lineage in DECS
            waited = [graph[key] for key in node.upstream]
            assert [up.key for up in waited if up.stage == "train_pipe"] == [trains[node.lineage]]
            assert {up.lineage for up in waited if up.stage == "merge_dl1"} == {SHARED_BY_ALL}
        if node.stage == "dl2_to_irfs":
            (dl2,) = node.upstream
            assert graph[dl2].lineage == node.lineage
