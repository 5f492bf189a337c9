"""A lineage-aware run's arrays (``lstflow.productions.lineage_arrays``): one per (stage,
lineage group), each waiting for exactly the upstream elements submitted in the run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lstflow.productions.lineage_arrays import (
    LineageArray,
    ProducedPaths,
    cut_arrays,
    dependency_option,
    group_names,
    group_nice,
    queue_has_room,
)
from lstflow.productions.lineage_upstream import (
    UpstreamWatcher,
    upstream_verdict,
    upstream_watchers,
)
from lstflow.slurm.elements import ElementId
from lstflow.stages.base import PlanContext
from lstflow.stages.element_graph import element_graph
from lstflow.stages.lineage import SHARED_BY_ALL, build_lineage
from lstflow.stages.local_files import LocalFileLister
from lstflow.stages.registry import plan_stage, stages_to_run
from lstflow.workitems import ArraySpec

pytestmark = pytest.mark.unit

DECS = ("dec_2276", "dec_3476")
NODES = ("node_corsika_theta_10.0_az_20.0_", "node_corsika_theta_30.0_az_40.0_")


def allsky_arrays(allsky_tree: Callable[[str], Any]) -> list[LineageArray]:
    tree = allsky_tree("data")
    tree.add(DECS, NODES, NODES)
    production = tree.generate("AllSkyFull", DECS)
    context = PlanContext(
        prod_id=production.prod_id,
        lstchain_config="/cluster/config.json",
        log_root="/cluster/logs",
        files=LocalFileLister(),
    )
    plans = {s: plan_stage(production, s, context) for s in stages_to_run(production)}
    nodes = element_graph(build_lineage(production), plans)
    templates = {
        s: ArraySpec(name=s, items=p.items, log_dir=p.log_dir, workdir=p.log_dir)
        for s, p in plans.items()
    }
    return cut_arrays({s: p.items for s, p in plans.items()}, nodes, templates)


def test_one_array_per_stage_and_group_never_crossing_declinations(
    allsky_tree: Callable[[str], Any],
) -> None:
    arrays = allsky_arrays(allsky_tree)
    assert set(group_names(arrays)) == {*DECS, SHARED_BY_ALL}
    keys = [(array.stage, array.group) for array in arrays]
    assert len(keys) == len(set(keys))
    groups_of = {item.key: array.group for array in arrays for item in array.spec.items}
    for array in arrays:
        assert {item.key for item in array.spec.items}.isdisjoint(array.upstream)
        if array.stage in ("train_pipe", "dl1_to_dl2", "dl2_to_irfs"):
            # A declination waits for its own chain and the shared test merges, never another's.
            assert {groups_of[key] for key in array.upstream} <= {array.group, SHARED_BY_ALL}
    assert [LineageArray.from_json(array.to_json()) for array in arrays] == arrays


def test_declinations_get_more_nice_in_order_and_shared_work_goes_with_the_first(
    allsky_tree: Callable[[str], Any],
) -> None:
    arrays = allsky_arrays(allsky_tree)
    nice = group_nice(arrays, 100)
    order = group_names(arrays)
    decs = [group for group in order if group != SHARED_BY_ALL]
    assert [nice[group] for group in decs] == [100 * order.index(group) for group in decs]
    assert nice[SHARED_BY_ALL] == nice[decs[0]] == 0  # the test merges every dec needs
    assert set(group_nice(arrays, 0).values()) == {0}


def test_the_pending_cap_holds_arrays_back_but_never_stalls_an_empty_queue() -> None:
    assert queue_has_room(pending=1990, size=10, cap=2000)
    assert not queue_has_room(pending=1991, size=10, cap=2000)
    assert queue_has_room(pending=0, size=5000, cap=2000)  # larger than the cap, queue empty
    assert queue_has_room(pending=10**6, size=10, cap=0)  # 0: no cap


def test_dependency_names_whole_jobs_or_single_elements_and_skips_done_items() -> None:
    located = {
        "merge_dl1[0]": ElementId("10", 0),
        "merge_dl1[1]": ElementId("10", 1),
        "train_pipe[0]": ElementId("11", 0),
        "train_pipe[1]": ElementId("11", 1),
    }
    sizes = {"10": 2, "11": 2}
    assert dependency_option(["merge_dl1[0]", "merge_dl1[1]"], located, sizes) == "afterok:10"
    assert dependency_option(["train_pipe[1]", "merge_dl1[0]"], located, sizes) == (
        "afterok:11_1:10_0"
    )
    # Not submitted in this run (its outputs existed): nothing to wait for.
    assert dependency_option(["merge_dl1[7]"], located, sizes) is None


def test_produced_paths_are_outputs_their_directories_and_paths_inside() -> None:
    produced = ProducedPaths(["/d/merged/gamma.h5", "/d/models/", "/d//DL2/x.h5"])
    for path in ("/d/merged/gamma.h5", "/d/merged", "/d/models", "/d/models/cls.sav", "/d/DL2"):
        assert produced.produces(path), path
    for path in ("/d/DL1/gamma", "/e", "/d/merged/other.h5"):
        assert not produced.produces(path), path


# ---- when a watcher may submit by itself (``lstflow.productions.lineage_upstream``) ---------


def test_a_declinations_watchers_wait_for_its_own_chain_and_the_shared_merges_only(
    allsky_tree: Callable[[str], Any],
) -> None:
    arrays = allsky_arrays(allsky_tree)
    order = group_names(arrays)
    dl2 = next(a for a in arrays if a.stage == "dl1_to_dl2" and a.group == DECS[1])
    watchers = upstream_watchers(arrays, dl2)
    assert {(w.stage, w.group) for w in watchers} == {
        ("train_pipe", DECS[1]),
        ("merge_dl1", SHARED_BY_ALL),
    }
    assert all(w.map_index == order.index(w.group) for w in watchers)
    assert (
        watchers[0].state_key("lineage.merge_dl1") == f"lineage.merge_dl1_{watchers[0].map_index}"
    )
    first = next(a for a in arrays if a.stage == "r0_to_dl1")
    assert upstream_watchers(arrays, first) == ()


def test_the_upstream_verdict_waits_until_every_watcher_ended_then_names_the_failed() -> None:
    train = UpstreamWatcher("train_pipe", "dec_2276", 1)
    merge = UpstreamWatcher("merge_dl1", SHARED_BY_ALL, 0)
    running = upstream_verdict((train, merge), {train: "deferred", merge: "success"})
    assert running.waiting == ("train_pipe [dec_2276]",) and not running.succeeded
    never_started = upstream_verdict((train,), {})
    assert never_started.waiting == ("train_pipe [dec_2276]",)
    failed = upstream_verdict((train, merge), {train: "failed", merge: "success"})
    assert (failed.waiting, failed.failed) == ((), ("train_pipe [dec_2276] failed",))
    # A stage the run skipped left its outputs as they were: its dependants may run.
    assert upstream_verdict((train, merge), {train: "skipped", merge: "success"}).succeeded
    assert upstream_verdict((), {}).succeeded
