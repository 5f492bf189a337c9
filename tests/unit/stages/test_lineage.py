"""Entry-level lineage (``lstflow.stages.lineage``) on the three real sample productions, the
demo productions, generated AllSky, prod5 and NSB-grid shaped productions, and hand-written
path edge cases; and ``lstflow plan``'s lineage section."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lstflow.cli import main
from lstflow.config import ProductionConfig, load_production
from lstflow.config.generate.layout import Prod5Layout
from lstflow.config.generate.prod5 import SAMPLES as PROD5_SAMPLES
from lstflow.config.model import STAGE_ORDER, StageEntry
from lstflow.stages.dl1_to_dl2 import dl2_name
from lstflow.stages.lineage import (
    SHARED_BY_ALL,
    EntryRef,
    ProductionLineage,
    build_lineage,
)
from lstflow.stages.registry import EXECUTION_ORDER
from lstflow_dev.testdata import production_samples_dir

pytestmark = pytest.mark.unit

CHECKOUT = Path(__file__).resolve().parents[3]
DEMO_CONFIGS = CHECKOUT / "include" / "production_configs" / "demo"
DECS = ("dec_2276", "dec_2376", "dec_3476")
TRAIN_NODES = ("node_corsika_theta_10.0_az_20.0_", "node_corsika_theta_30.0_az_40.0_")
TEST_NODES = ("node_theta_20.0_az_180.0_", "node_theta_40.0_az_90.0_")


def ref(text: str) -> EntryRef:
    stage, index = text.rstrip("]").split("[")
    return EntryRef(stage, int(index))


def refs(*texts: str) -> tuple[EntryRef, ...]:
    return tuple(ref(text) for text in texts)


def sample(name: str) -> ProductionConfig:
    (path,) = (production_samples_dir() / name).glob("*.yaml")
    return load_production(path)


def demo(name: str, monkeypatch: pytest.MonkeyPatch) -> ProductionConfig:
    monkeypatch.setenv("LSTFLOW_DATA_ROOT", "/cluster/data")
    monkeypatch.setenv("LSTFLOW_ANALYSIS_ENV", "/cluster/env")
    (path,) = (DEMO_CONFIGS / name).glob("*.yaml")
    return load_production(path)


def assert_waits_only_on_earlier_stages(lineage: ProductionLineage) -> None:
    order = EXECUTION_ORDER
    for entry, parents in lineage.upstream.items():
        assert all(order.index(parent.stage) < order.index(entry.stage) for parent in parents)


def producer(production: ProductionConfig, stage: str, field: str, path: str) -> EntryRef:
    """The one entry of ``stage`` whose ``field`` is ``path`` (how a test reads a config)."""
    (found,) = [
        EntryRef(stage, entry.index)
        for entry in production.entries(stage)
        if getattr(entry, field).rstrip("/") == path.rstrip("/")
    ]
    return found


# ---- the three real samples -----------------------------------------------------------------


def test_allsky_sample_links_each_dl2_entry_to_its_merge_and_the_models() -> None:
    production = sample("20240430_v0.10.4_src9_dec3476_tuned")
    lineage = build_lineage(production)
    assert_waits_only_on_earlier_stages(lineage)
    assert [group.name for group in lineage.groups] == ["dec_3476"]
    assert lineage.groups[0].counts()["dl1_to_dl2"] == 20
    (train,) = production.entries("train_pipe")
    assert lineage.upstream[ref("train_pipe[0]")] == (
        producer(production, "merge_dl1", "output", train.gamma),  # type: ignore[attr-defined]
        producer(production, "merge_dl1", "output", train.proton),  # type: ignore[attr-defined]
    )
    for entry in production.entries("dl1_to_dl2"):
        merge = producer(production, "merge_dl1", "output", entry.input)  # type: ignore[attr-defined]
        assert lineage.upstream[EntryRef("dl1_to_dl2", entry.index)] == (
            merge,
            ref("train_pipe[0]"),
        )
    # The training gamma merge reads a directory holding every split's train half.
    gamma_merge = producer(production, "merge_dl1", "output", train.gamma)  # type: ignore[attr-defined]
    split_parents = lineage.upstream[gamma_merge]
    assert len(split_parents) == len(production.entries("train_test_split")) == 20
    # r0_to_dl1 reads DL0 from outside the production (trailing slash normalised away).
    assert len(lineage.external_inputs) == len(production.entries("r0_to_dl1"))
    assert not any(
        path.endswith("/") for paths in lineage.external_inputs.values() for path in paths
    )


def test_prod5_sample_irfs_wait_for_the_dl2_files_they_name() -> None:
    production = sample("20240122_v0.10.4_prod5_trans_80")
    lineage = build_lineage(production)
    assert_waits_only_on_earlier_stages(lineage)
    assert [group.name for group in lineage.groups] == ["20240122_v0.10.4_prod5_trans80"]
    planned_dl2 = {
        posixpath.join(entry.output, dl2_name(entry.input)): EntryRef("dl1_to_dl2", entry.index)  # type: ignore[attr-defined]
        for entry in production.entries("dl1_to_dl2")
    }
    for stage in ("dl2_to_irfs", "dl2_to_sensitivity"):
        for entry in production.entries(stage):
            named = [entry.gamma_file, entry.proton_file, entry.electron_file]  # type: ignore[attr-defined]
            expected = sorted({planned_dl2[path] for path in named if path})
            assert list(lineage.upstream[EntryRef(stage, entry.index)]) == expected
    # The sample's off0.0deg IRF names the off0.4deg gamma DL2 (a copy-paste in the real config):
    # lineage shows what the config says.
    assert ref("dl1_to_dl2[0]") not in lineage.ancestors(ref("dl2_to_irfs[1]"))
    assert lineage.downstream(ref("dl1_to_dl2[0]")) == frozenset()
    # The train/test split feeds the merges, which feed training: transitive edges are dropped.
    assert lineage.upstream[ref("train_pipe[0]")] == refs("merge_dl1[0]", "merge_dl1[1]")
    assert ref("r0_to_dl1[2]") in lineage.ancestors(ref("train_pipe[0]"))


def test_dl1ab_sample_reads_the_source_production_from_outside() -> None:
    production = sample("20240716_v0.10.7_src10_dec3476_tuned")
    lineage = build_lineage(production)
    assert_waits_only_on_earlier_stages(lineage)
    assert [group.name for group in lineage.groups] == ["dec_3476"]
    dl1ab = [entry for entry in lineage.entries if entry.stage == "dl1ab"]
    assert dl1ab and all(lineage.upstream[entry] == () for entry in dl1ab)
    # The real config has 19 gamma nodes in dl1ab but splits 20: the split of node
    # theta_7.093_az_328.91 reads a directory no entry of this production writes.
    orphan = ref("train_test_split[19]")
    assert set(lineage.external_inputs) == {*dl1ab, orphan}
    assert lineage.upstream[orphan] == ()
    assert lineage.external_inputs[orphan][0].endswith(
        "GammaDiffuse/node_corsika_theta_7.093_az_328.91_"
    )
    assert all(
        lineage.upstream[EntryRef("train_test_split", entry.index)]
        for entry in production.entries("train_test_split")[:19]
    )


# ---- demo productions ---------------------------------------------------------------------------


def test_demo_analysis_lineage(monkeypatch: pytest.MonkeyPatch) -> None:
    lineage = build_lineage(demo("lstflow_demo_analysis", monkeypatch))
    assert_waits_only_on_earlier_stages(lineage)
    assert [group.name for group in lineage.groups] == ["models"]
    assert lineage.upstream[ref("merge_dl1[0]")] == refs("train_test_split[0]")
    assert lineage.upstream[ref("merge_dl1[2]")] == ()  # synthetic point gammas: not split
    assert lineage.external_inputs[ref("merge_dl1[2]")] == ("/cluster/data/demo/synthetic/gamma",)
    assert lineage.upstream[ref("train_pipe[0]")] == refs("merge_dl1[0]", "merge_dl1[1]")
    assert lineage.upstream[ref("plot_rf_feat[0]")] == refs("train_pipe[0]")
    assert lineage.upstream[ref("dl2_to_irfs[0]")] == refs("dl1_to_dl2[0]", "dl1_to_dl2[1]")
    # Nothing reads the feature-importance plot, though it lies in the models directory.
    assert lineage.downstream(ref("plot_rf_feat[0]")) == frozenset()


def test_demo_dl1_chains_are_named_after_their_merged_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lineage = build_lineage(demo("lstflow_demo_dl1", monkeypatch))
    assert [(group.name, group.entries) for group in lineage.groups] == [
        ("dl1_gamma_merged", refs("r0_to_dl1[0]", "merge_dl1[0]")),
        ("dl1_proton_merged", refs("r0_to_dl1[1]", "merge_dl1[1]")),
    ]
    single = build_lineage(demo("lstflow_demo_dl1ab", monkeypatch))
    assert [(group.name, group.entries) for group in single.groups] == [("gamma", refs("dl1ab[0]"))]


# ---- generated productions ----------------------------------------------------------------------


@pytest.fixture
def tree(allsky_tree: Callable[[str], Any]) -> Any:
    """A DL0 tree with three declinations and a prod5 trans-80 tree beside it."""
    found = allsky_tree("data")
    found.add(DECS, TRAIN_NODES, TEST_NODES)
    prod5 = Prod5Layout(str(found.root), "gen")
    for particle, offset in PROD5_SAMPLES:
        path = Path(prod5.dl0(particle, offset))
        path.mkdir(parents=True)
        (path / "run1.simtel.gz").write_bytes(b"")
    return found


def group_named(lineage: ProductionLineage, name: str) -> frozenset[EntryRef]:
    (found,) = [group for group in lineage.groups if group.name == name]
    return frozenset(found.entries)


def test_allsky_declinations_are_separate_lineages(tree: Any) -> None:
    production = tree.generate("AllSkyFull", DECS)
    lineage = build_lineage(production)
    assert_waits_only_on_earlier_stages(lineage)
    assert [group.name for group in lineage.groups] == [*DECS, SHARED_BY_ALL]
    shared = group_named(lineage, SHARED_BY_ALL)
    # The test nodes' DL1 and merges feed every declination's DL2.
    assert {entry.stage for entry in shared} == {"r0_to_dl1", "merge_dl1"}
    assert len(shared) == 2 * len(TEST_NODES)
    for dec in DECS:
        chain = group_named(lineage, dec)
        counts = {stage: sum(e.stage == stage for e in chain) for stage in STAGE_ORDER}
        assert counts["train_pipe"] == 1
        assert counts["dl1_to_dl2"] == counts["dl2_to_irfs"] == len(TEST_NODES)
        (train,) = [entry for entry in chain if entry.stage == "train_pipe"]
        others = frozenset(lineage.entries) - chain - shared
        # No entry of this declination waits for another declination's work ...
        for entry in chain:
            assert not lineage.ancestors(entry) & others
        # ... and its training's failure stops only this declination.
        assert lineage.downstream(train) <= chain
        irfs = {entry for entry in chain if entry.stage == "dl2_to_irfs"}
        assert irfs <= lineage.downstream(train)


def test_prod5_generated_is_one_lineage(tree: Any) -> None:
    production = tree.generate("Prod5Trans80", DECS)
    lineage = build_lineage(production)
    assert_waits_only_on_earlier_stages(lineage)
    assert len(lineage.groups) == 1
    train = ref("train_pipe[0]")
    dl2 = {entry for entry in lineage.entries if entry.stage == "dl1_to_dl2"}
    assert dl2 and all(train in lineage.upstream[entry] for entry in dl2)
    for entry in lineage.entries:
        if entry.stage in ("dl2_to_irfs", "dl2_to_sensitivity"):
            assert lineage.upstream[entry] and set(lineage.upstream[entry]) <= dl2


def merged_productions(*productions: ProductionConfig) -> ProductionConfig:
    """One production holding every entry of ``productions``, re-indexed stage by stage: the
    shape of an NSB grid run as one production (one AllSky tree per NSB level)."""
    stages: dict[str, list[StageEntry]] = {}
    for production in productions:
        for stage, entries in production.stages.items():
            found = stages.setdefault(stage, [])
            found += [replace(entry, index=len(found) + i) for i, entry in enumerate(entries)]
    first = productions[0]
    return replace(
        first,
        prod_id="nsb_grid",
        stages={stage: tuple(entries) for stage, entries in stages.items()},
    )


def test_nsb_grid_lineages_per_level_and_declination(tree: Any) -> None:
    """The AllSkyNsbGrid kind writes one production per NSB level, each one lineage per
    declination; run as one production, the levels stay apart too."""
    levels = tree.generate_all("AllSkyNsbGrid", DECS, "grid", nsb_levels=("0.00", "0.07"))
    assert [level.prod_id for level in levels] == [
        "grid_allsky_nsb_tuning_0.00",
        "grid_allsky_nsb_tuning_0.07",
    ]
    for level in levels:
        lineage = build_lineage(level)
        assert_waits_only_on_earlier_stages(lineage)
        assert [group.name for group in lineage.groups] == [*DECS, SHARED_BY_ALL]
    lineage = build_lineage(merged_productions(*levels))
    assert_waits_only_on_earlier_stages(lineage)
    names = [group.name for group in lineage.groups]
    chains = [f"{level.prod_id}/{dec}" for level in levels for dec in DECS]
    assert names[: len(chains)] == chains
    # Each level's test nodes feed that level's declinations only.
    assert names[len(chains) :] == [
        "shared: " + " + ".join(f"{level.prod_id}/{dec}" for dec in DECS) for level in levels
    ]
    low, high = (group_named(lineage, f"{level.prod_id}/dec_2276") for level in levels)
    trains = [entry for entry in low if entry.stage == "train_pipe"]
    assert len(trains) == 1 and lineage.downstream(trains[0]) <= low
    # The split diffuse halves give each declination its own full-enclosure IRFs.
    for entry in low:
        assert not lineage.ancestors(entry) & high


def test_generated_library_sized_production_stays_cheap(
    allsky_tree: Callable[[str], Any],
) -> None:
    """An NSB-grid sized production (nine declinations, split diffuse) builds its lineage in
    one pass: every entry is in exactly one group."""
    decs = tuple(f"dec_{2276 + 100 * number}" for number in range(9))
    nodes = [f"node_corsika_theta_{10 + n * 1.5:.3f}_az_{n * 7 + 0.5:.3f}_" for n in range(12)]
    big = allsky_tree("big")
    big.add(decs, nodes, nodes)
    production = big.generate("AllSkyFullSplitDiffuse", decs, "nsb")
    lineage = build_lineage(production)
    grouped = [entry for group in lineage.groups for entry in group.entries]
    assert sorted(grouped) == sorted(lineage.entries)
    assert [group.name for group in lineage.groups] == [*decs, SHARED_BY_ALL]
    assert sum(production.entry_counts().values()) + 9 == len(lineage.entries)  # + the plots


# ---- path edge cases ----------------------------------------------------------------------------

EDGE_CASES = """\
workflow_kind: lstchain
prod_id: edges
source_environment:
  source_file: /opt/venv/bin/activate
stages_to_run: [r0_to_dl1, merge_dl1, train_pipe, dl1_to_dl2]
stages:
  r0_to_dl1:
  - input: /dl0/gamma/
    output: /dl1//gamma/node_a/
  - input: /dl0/proton
    output: /dl1/proton
  - input: /dl0/test
    output: /dl1/test
  merge_dl1:
  - input: /dl1/gamma
    output: /dl1/gamma_merged.h5
  - input: /dl1/proton/
    output: /dl1/proton/merged/proton_merged.h5
  - input: /dl1/test/./
    output: /dl1/test_merged.h5
  train_pipe:
  - input:
      gamma: /dl1/gamma_merged.h5
      proton: /dl1/proton/merged/proton_merged.h5
    output: /models/
  dl1_to_dl2:
  - input: /dl1/test_merged.h5
    output: /dl2
    path_model: /models
  - input: /elsewhere/dl1_other.h5
    output: /dl2
    path_model: /models/
"""


def test_paths_are_normalised_and_contained(tmp_path: Path) -> None:
    path = tmp_path / "lstmcpipe_config.yaml"
    path.write_text(EDGE_CASES)
    (tmp_path / "lstchain_config.json").write_text("{}")
    lineage = build_lineage(load_production(path))
    # A merge of a directory waits for the r0_to_dl1 entry writing a subdirectory of it.
    assert lineage.upstream[ref("merge_dl1[0]")] == refs("r0_to_dl1[0]")
    # Trailing slashes and "/./" do not hide the producer.
    assert lineage.upstream[ref("merge_dl1[2]")] == refs("r0_to_dl1[2]")
    # A merged file written inside an r0_to_dl1 directory: training waits for the merge, and the
    # r0_to_dl1 edge it implies is dropped.
    assert lineage.upstream[ref("merge_dl1[1]")] == refs("r0_to_dl1[1]")
    assert lineage.upstream[ref("train_pipe[0]")] == refs("merge_dl1[0]", "merge_dl1[1]")
    assert lineage.upstream[ref("dl1_to_dl2[0]")] == refs("merge_dl1[2]", "train_pipe[0]")
    assert lineage.upstream[ref("dl1_to_dl2[1]")] == refs("train_pipe[0]")
    assert lineage.external_inputs[ref("dl1_to_dl2[1]")] == ("/elsewhere/dl1_other.h5",)


NAMESAKE_IRF = """\
workflow_kind: lstchain
prod_id: namesake
source_environment:
  source_file: /opt/venv/bin/activate
stages_to_run: [train_pipe, dl2_to_irfs]
stages:
  train_pipe:
  - input: {gamma: /dl1/g2276.h5, proton: /dl1/p2276.h5}
    output: /models/dec_2276
  - input: {gamma: /dl1/g3476.h5, proton: /dl1/p3476.h5}
    output: /models/dec_3476
  dl2_to_irfs:
  - input: {gamma_file: /elsewhere/dl2_gamma.h5}
    output: /irf/dec_2276.fits.gz
"""


def test_chain_names_never_repeat_a_declination(tmp_path: Path) -> None:
    """An IRF from DL2 made elsewhere (no models behind it) is a chain of its own, and its name
    stays distinct from the declinations' even when its file is named like one."""
    path = tmp_path / "lstmcpipe_config.yaml"
    path.write_text(NAMESAKE_IRF)
    (tmp_path / "lstchain_config.json").write_text("{}")
    lineage = build_lineage(load_production(path))
    assert [group.name for group in lineage.groups] == [
        "dec_2276",
        "dec_3476",
        "dec_2276 (dl2_to_irfs[0])",
    ]


def test_stages_not_run_are_outside_the_graph(tmp_path: Path) -> None:
    path = tmp_path / "lstmcpipe_config.yaml"
    path.write_text(EDGE_CASES.replace("[r0_to_dl1, merge_dl1,", "[merge_dl1,"))
    (tmp_path / "lstchain_config.json").write_text("{}")
    lineage = build_lineage(load_production(path))
    assert not any(entry.stage == "r0_to_dl1" for entry in lineage.entries)
    assert lineage.upstream[ref("merge_dl1[0]")] == ()
    assert lineage.external_inputs[ref("merge_dl1[0]")] == ("/dl1/gamma",)


# ---- lstflow plan --------------------------------------------------------------------------------


def test_plan_prints_lineage_groups_and_upstream(capsys: pytest.CaptureFixture[str]) -> None:
    (path,) = (production_samples_dir() / "20240430_v0.10.4_src9_dec3476_tuned").glob("*.yaml")
    assert main(["plan", str(path), "--lineage"]) == 0
    out = capsys.readouterr().out
    assert "== lineage: 1 group(s), 104 entries, 40 input(s) from outside the production" in out
    assert "   dec_3476: r0_to_dl1 40, train_test_split 20, merge_dl1 22, train_pipe 1," in out
    assert "     train_pipe[0] <- merge_dl1[0], merge_dl1[1]\n" in out
    assert "lstchain_dl1_to_dl2" not in out  # the lineage only


def test_plan_ends_with_the_lineage_summary(
    tree: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lstflow.config.dump import dump_production

    config = tmp_path / "out" / "lstmcpipe_config.yaml"
    config.parent.mkdir()
    (config.parent / "lstchain_config.json").write_text("{}")
    config.write_text(dump_production(tree.generate("AllSkyFull", DECS), "generated"))
    assert main(["plan", str(config)]) == 0
    out = capsys.readouterr().out
    tail = out[out.index("== lineage:") :].splitlines()
    assert tail[0] == "== lineage: 4 group(s), 40 entries, 14 input(s) from outside the production"
    assert [line.split(":")[0].strip() for line in tail[1:]] == [*DECS, SHARED_BY_ALL]
    assert "lstchain_dl1_to_dl2" in out  # the arrays are still there
    assert main(["plan", str(config), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    groups = document["lineage"]["groups"]
    assert [group["name"] for group in groups] == [*DECS, SHARED_BY_ALL]
    (train,) = [e for e in groups[0]["entries"] if e["entry"].startswith("train_pipe")]
    assert train["upstream"] == ["merge_dl1[0]", "merge_dl1[1]"]
