"""Histograms and templates render what the page data says, escaped."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.library_cases import SHARED_PROD_ID, write_shared_prod_id_library

from lstflow.config import load_library
from lstflow.onsite.status import ROW_KEYS, RunProgress, status_json
from lstflow.ui.airflow_db import RunInfo
from lstflow.ui.histograms import bin_counts, svg_histogram
from lstflow.ui.production_rows import ProductionRow
from lstflow.ui.progress import StageProgress, stage_progress
from lstflow.ui.render import human_bytes, readable_run_id, readme_title, render
from lstflow.ui.run_files import PlotSource, PlotView
from lstflow.ui.views import histograms, production_plots, run_config

pytestmark = pytest.mark.unit

ROW = ProductionRow(
    prod_id="prod<1>",
    dag_id="mc_prod_1_",
    config_path="/cfg/prod.yml",
    stages=("r0_to_dl1", "merge_dl1"),
    entry_counts={"r0_to_dl1": 2, "merge_dl1": 1},
    environment="lstchain-v0.12",
    readme="# Prod 1\nnotes",
)
RUN = RunInfo("mc_prod_1_", "manual__1", "failed", None, None)


def test_bins_cover_min_to_max_and_equal_values_share_one_bin() -> None:
    counts, low, high = bin_counts([1.0, 2.0, 3.0, 10.0], 3)
    assert (counts, low, high) == ([3, 0, 1], 1.0, 10.0)
    assert bin_counts([5.0, 5.0], 4)[0] == [2]


def test_histogram_svg_has_one_bar_per_bin_and_an_escaped_title() -> None:
    svg = svg_histogram([1, 2, 2, 3], "a<b", "min", bins=3)
    assert svg.count("<rect") == 3
    assert "a&lt;b" in svg and "4 elements" in svg
    assert "no sacct data" in svg_histogram([], "empty", "MiB")


def test_histograms_per_stage_from_provenance_in_minutes_and_mib() -> None:
    provenance = {
        "stages": {
            "r0_to_dl1": {
                "elements": [
                    {"elapsed_s": 120.0, "max_rss_bytes": 2**30},
                    {"elapsed_s": 60.0, "max_rss_bytes": None},
                ]
            },
            "merge_dl1": {"elements": []},
        }
    }
    [(stage, runtime, memory)] = histograms(provenance)
    assert stage == "r0_to_dl1"
    assert "2 elements" in runtime and "1 elements" in memory
    assert "1.02e+03 MiB" in memory  # one element of 1 GiB


def test_human_bytes() -> None:
    assert human_bytes(None) == "-"
    assert human_bytes(512) == "512 B"
    assert human_bytes(3 * 2**20) == "3.0 MiB"


def production_html(
    run: RunInfo, stages: list[StageProgress], plots: list[Any], **values: Any
) -> str:
    """The production page of ``ROW``; ``values`` override the other template values."""
    defaults: dict[str, Any] = {
        "base": "/lstflow",
        "airflow_base": "",
        "row": ROW,
        "runs": [run],
        "lineages": [],
        "histograms": [],
        "provenance": None,
        "provenance_path": "",
        "provenance_note": "not run yet",
        "run_config": "prod/lstmcpipe_config.yaml",
    }
    return render(
        "production.html", **{**defaults, **values, "run": run, "stages": stages, "plots": plots}
    )


def test_production_page_shows_bars_failures_plots_and_provenance() -> None:
    failure = {
        "element": "7_1",
        "key": "run2",
        "state": "OUT_OF_MEMORY",
        "exit_code": 0,
        "attempts": 3,
        "command": "lstchain_mc_r0_to_dl1 --input-file '<x>'",
        "stderr_log": "/logs/r0_to_dl1_7_1.err",
        "stderr_tail": "MemoryError",
    }
    stages = [
        StageProgress("r0_to_dl1", "failed", 2, 1, 1, 0, ("7",), (failure,), "report"),
        StageProgress("merge_dl1", "upstream_failed"),
    ]
    provenance = {
        "written_at": "2026-01-01T00:00:00+00:00",
        "configs": {"production": {"path": "/cfg/prod.yml", "sha256": "ab" * 32, "text": "x"}},
        "software": {
            "airflow_side": {"apache-airflow": "3.3.2", "lstflow": "0.1.0"},
            "analysis_side": {"lstchain": "0.12.3", "lstflow": "0.1.0"},
        },
        "inputs": [{"path": "/d/DL0", "kind": "dir", "size": 2048, "files": 2}],
        "outputs": [{"path": "/d/DL1", "kind": "missing", "size": None, "files": None}],
    }
    html = production_html(
        RUN,
        stages,
        [],
        provenance=provenance,
        provenance_path="/logs/prod/runs/manual__1/provenance.json",
        provenance_note="",
        run_config="prod/lstmcpipe_config<fix>.yaml",
    )
    assert 'data-stage="r0_to_dl1" data-percent-done="50.0"' in html
    assert '<code id="run-config">prod/lstmcpipe_config&lt;fix&gt;.yaml</code>' in html
    assert "configs-of-production" not in html  # a single config
    assert 'class="done" style="width: 50.0%"' in html
    assert "MemoryError" in html and "&#39;&lt;x&gt;&#39;" in html
    assert "prod&lt;1&gt;" in html and "prod<1>" not in html
    assert 'href="/dags/mc_prod_1_/runs/manual__1"' in html
    software = re.search(r'<table id="software">.*?</table>', html, re.S)
    assert software is not None
    assert software.group(0).count("<tr>") == 4  # header + the union of both sides' 3 packages
    assert "2.0 KiB" in html and "abababababababab" in html


def test_nights_page_renders_status_json_rows_in_column_order() -> None:
    document = status_json(
        "2024-01-15",
        "v0.12.3",
        [RunProgress(15, "DATA", 4, "Crab", ("100_0", "100_1"), ("COMPLETED", "COMPLETED"))],
    )
    html = render(
        "nights.html",
        base="/lstflow",
        airflow_base="",
        nights=[(RunInfo("lstflow_nightly", "scheduled__x", "success", None, None), document)],
        keys=ROW_KEYS,
        dag_id="lstflow_nightly",
        task_id="night_status",
    )
    cells = re.findall(r"<td>(.*?)</td>", html)
    assert [re.sub("<[^>]+>", "", c) for c in cells[:10]] == [
        "1",
        "-",
        "DATA",
        "15",
        "4",
        "Crab",
        "Check",
        "1",
        "100",
        "COMPLETED",
    ]
    assert 'data-night="2024-01-15"' in html and "no-nights" not in html
    assert len(ROW_KEYS) == len(document["columns"])
    assert ">SIMULATE</span>" not in html
    simulated = {**document, "simulate": True}
    html = render(
        "nights.html",
        base="/lstflow",
        airflow_base="",
        nights=[(RunInfo("lstflow_nightly", "manual__x", "success", None, None), simulated)],
        keys=ROW_KEYS,
        dag_id="lstflow_nightly",
        task_id="night_status",
    )
    assert ">SIMULATE</span>" in html


def test_productions_page_lists_rows_and_config_errors() -> None:
    html = render(
        "productions.html",
        base="/lstflow",
        airflow_base="",
        library_root="/cfg",
        rows=[ROW],
        latest={"mc_prod_1_": RUN},
        errors=["/cfg/bad.yml: stages: unknown key"],
    )
    assert 'href="/lstflow/productions/prod%3C1%3E"' in html
    assert "r0_to_dl1 (2), merge_dl1 (1)" in html
    assert "configs)" not in html
    assert "failed" in html and "/cfg/bad.yml: stages: unknown key" in html
    parts = replace(ROW, configs=("a/full.yaml", "b/merge_restart.yml"))
    html = render(
        "productions.html",
        base="/lstflow",
        airflow_base="",
        library_root="/cfg",
        rows=[parts],
        latest={},
        errors=[],
    )
    assert "(2 configs)" in html


def test_production_page_lists_the_configs_of_a_production_and_the_runs_choice() -> None:
    parts = replace(ROW, configs=("a/full.yaml", "b/merge_restart.yml"))
    html = render(
        "production.html",
        base="/lstflow",
        airflow_base="",
        row=parts,
        run=RUN,
        runs=[RUN],
        stages=[],
        lineages=[],
        plots=[],
        histograms=[],
        provenance=None,
        provenance_path="",
        provenance_note="",
        run_config="b/merge_restart.yml",
    )
    listed = re.search(r'<p id="configs-of-production">(.*?)</p>', html, re.S)
    assert listed is not None
    assert re.sub(r"\s+", " ", re.sub("<[^>]+>", "", listed.group(1))).endswith(
        "a/full.yaml (default), b/merge_restart.yml"
    )
    assert '<code id="run-config">b/merge_restart.yml</code>' in html


def test_run_config_and_plots_of_every_part(tmp_path: Path) -> None:
    files = write_shared_prod_id_library(tmp_path, "/data")
    production = load_library(tmp_path).productions[SHARED_PROD_ID]
    run = RunInfo("mc_x", "manual__1", "success", None, None)
    assert run_config(production, run) == files.label(files.full)
    chosen = replace(run, conf={"config": files.label(files.partial)})
    assert run_config(production, chosen) == files.label(files.partial)
    assert [(plot.name, plot.path) for plot in production_plots(production)] == [
        ("rf-importance-0", "/data/models/dec_2276/features_importance.png")
    ]


def test_a_dry_run_is_marked_and_its_stages_say_what_was_planned() -> None:
    run = RunInfo(
        "mc_prod_1_",
        "manual__2026-12-06T04:25:14.123456+00:00",
        "success",
        None,
        None,
        {"dry_run": True},
    )
    stage = stage_progress(
        "merge_dl1", "success", {"return_value": {"dry_run": True, "elements": 22}}, []
    )
    html = production_html(run, [stage], [])
    assert '<span class="dry-run" id="dry-run">dry run: nothing was submitted</span>' in html
    assert "dry run: 22 element(s) planned, none submitted" in html
    assert 'data-percent-done="0.0"' in html
    # readable run ids: no microseconds, no timezone
    assert ">manual 2026-12-06 04:25:14</a>" in html


def test_a_running_stage_says_how_many_are_done_not_a_bare_percentage() -> None:
    running = StageProgress("r0_to_dl1", "deferred", total=5, done=0, in_slurm=5, job_ids=("9",))
    html = production_html(RUN, [running], [])
    assert "0/5 done, 5 queued or running in Slurm" in html
    assert 'class="done" style="width: 0.0%"' in html
    assert "0.0%</span>" not in html
    assert 'class="in-slurm" style="width: 100.0%"' in html  # hatched and moving, not done
    assert '<div class="bar" title=' in html


def test_a_stage_planning_its_work_has_a_moving_bar_without_a_percentage() -> None:
    planning = StageProgress("plot_rf_feat", "running")
    html = production_html(RUN, [planning, StageProgress("train_pipe", "success")], [])
    assert '<div class="bar indeterminate" title="planning">' in html
    assert html.count("bar indeterminate") == 1  # a finished stage without Slurm work is done
    assert '<span class="percent">planning</span>' in html


def test_a_skip_run_whose_outputs_all_existed_says_so() -> None:
    report = {"name": "merge_dl1", "total": 2, "completed": 2, "job_ids": []}
    progress = stage_progress("merge_dl1", "success", {"return_value": report}, [])
    assert progress.summary == "2/2 done: every output already existed, nothing submitted"


def test_a_missing_plot_is_a_placeholder_and_a_written_one_a_versioned_image() -> None:
    source = PlotSource("sensitivity-0", "Sensitivity", "/irf/sensitivity.png")
    missing = production_html(RUN, [], [PlotView(source, None)])
    assert '<img hidden alt="Sensitivity" data-plot="sensitivity-0"' in missing
    assert '<span class="plot-missing" data-missing-plot="sensitivity-0">not written' in missing
    written = production_html(RUN, [], [PlotView(source, "0123abcd")])
    assert 'src="/lstflow/productions/prod%3C1%3E/plots/sensitivity-0?v=0123abcd"' in written
    assert '<span class="plot-missing" hidden data-missing-plot="sensitivity-0">' in written
    # the cluster could not be asked: the image decides, its onerror shows the placeholder
    unknown = production_html(RUN, [], [PlotView(source, None, known=False)])
    assert 'plots/sensitivity-0" alt="Sensitivity"' in unknown
    assert 'onerror="this.hidden = true; this.nextElementSibling.hidden = false;"' in unknown
    assert '<span class="plot-missing" hidden data-missing-plot="sensitivity-0">' in unknown
    # the placeholder's display never overrides the hidden attribute
    assert "[hidden] { display: none !important; }" in written


def test_productions_list_is_searchable_sortable_with_readme_titles() -> None:
    latest = {
        "mc_prod_1_": RunInfo(
            "mc_prod_1_",
            "manual__2026-01-02T03:04:05.5+00:00",
            "success",
            None,
            None,
            {"dry_run": True},
        )
    }
    html = render(
        "productions.html",
        base="/lstflow",
        airflow_base="",
        library_root="/lib",
        rows=[ROW],
        latest=latest,
        errors=[],
    )
    assert 'input class="search" type="search" data-for="productions"' in html
    assert '<table id="productions" data-searchable>' in html
    assert html.count('<th class="sortable">') == 5
    assert "<summary>Prod 1</summary>" in html
    assert '<span class="dry-run">dry run</span>' in html
    assert "manual 2026-01-02 03:04:05" in html


def test_run_labels_and_readme_titles() -> None:
    assert (
        readable_run_id("scheduled__2020-01-17T07:00:00+00:00") == "scheduled 2020-01-17 07:00:00"
    )
    assert readable_run_id("my own id") == "my own id"
    assert readme_title("\n## Crab, dec 2276\nmore") == "Crab, dec 2276"


def test_the_file_cache_is_keyed_by_version_and_never_keeps_a_missing_file() -> None:
    from lstflow.ui.run_files import _CACHE

    reads: list[bytes | None] = [None, b"png", b"newer"]
    assert _CACHE.get(("/test/p.png", "v1"), lambda: reads.pop(0)) is None
    assert _CACHE.get(("/test/p.png", "v1"), lambda: reads.pop(0)) == b"png"
    assert _CACHE.get(("/test/p.png", "v1"), lambda: reads.pop(0)) == b"png"  # kept
    assert _CACHE.get(("/test/p.png", "v2"), lambda: reads.pop(0)) == b"newer"  # rewritten


def test_a_plot_url_carries_a_short_token_of_the_files_version() -> None:
    from lstflow.ui import run_files

    token = run_files._token("2026-12-06 07:15:41.873598320 +0000 3 2149357")
    assert re.fullmatch(run_files.VERSION_PATTERN, token)  # what the plot route accepts
    assert token != run_files._token("2026-12-06 07:15:41.873598320 +0000 3 2149358")


def test_a_production_with_an_invalid_entry_is_listed_with_its_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its header is valid, so it has a DAG: the Productions page lists it, not only the error."""
    from lstflow.ui.production_rows import invalid_entry_rows, read_library

    production = tmp_path / "library" / "broken"
    production.mkdir(parents=True)
    (production / "lstchain_config.json").write_text("{}\n")
    (production / "README.md").write_text("# Broken one\n")
    (production / "lstmcpipe_config.yaml").write_text(
        "workflow_kind: lstchain\nprod_id: broken_entry\n"
        "source_environment:\n  source_file: /env/bin/activate\n"
        "stages_to_run: [merge_dl1]\n"
        "stages:\n  merge_dl1:\n  - input: /dl1\n    ouput: /m.h5\n"
    )
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(tmp_path / "library"))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PARSE_CACHE_DIR", str(tmp_path / "cache"))
    library = read_library()
    assert not library.productions
    [row] = invalid_entry_rows(library)
    assert (row.prod_id, row.stages) == ("broken_entry", ("merge_dl1",))
    assert "unknown key 'ouput'" in row.problem
    html = render(
        "productions.html",
        base="/lstflow",
        airflow_base="",
        library_root="/lib",
        rows=[row],
        latest={},
        errors=[row.problem],
    )
    assert 'data-prod-id="broken_entry"' in html
    assert "invalid entries: its stages fail until the config is fixed" in html
    assert 'href="/dags/mc_broken_entry" target="_top">broken_entry</a>' in html


def test_a_page_that_is_not_found_is_a_page_not_raw_json() -> None:
    html = render("not_found.html", base="/lstflow", airflow_base="", message="Production x <y>")
    assert '<pre id="not-found">Production x &lt;y&gt;</pre>' in html
    assert 'href="/lstflow/productions"' in html


def test_plots_shown_whatever_the_cluster_connection_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from lstflow.ui import run_files

    def refused(paths: list[str]) -> dict[str, str]:
        raise RuntimeError("The conn_id `lstflow_local_slurm` isn't defined")

    monkeypatch.setattr(run_files, "_versions_over_ssh", refused)
    source = PlotSource("irfs-0", "IRF performance", "/irf/irfs.png")
    assert run_files.plot_views([source]) == [PlotView(source, None, known=False)]
