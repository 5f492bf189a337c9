"""What each page shows, assembled from the library, the metadata DB and the cluster files.

Routes (``app.py``) stay thin: they call these and render a template.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from markupsafe import Markup

from lstflow.config.model import ProductionConfig
from lstflow.config.parts import ProductionParts
from lstflow.onsite.status import ROW_KEYS
from lstflow.productions.naming import dag_id_for
from lstflow.productions.run_provenance import TASK_ID as PROVENANCE_TASK_ID
from lstflow.productions.run_provenance import provenance_path
from lstflow.stages.lineage import build_lineage
from lstflow.stages.registry import stages_to_run
from lstflow.ui import airflow_db, live, run_files
from lstflow.ui.histograms import svg_histogram
from lstflow.ui.lineage_progress import LineageRow, StageRecord, lineage_rows
from lstflow.ui.nights import NIGHTLY_DAG_ID, STATUS_TASK_ID, night_statuses
from lstflow.ui.production_rows import invalid_entry_rows, production_row, read_library
from lstflow.ui.progress import StageProgress, stage_progress, watched_jobs

LIVE_TASK_STATES = frozenset({"running", "deferred"})


class NotFound(LookupError):
    """The page names a production, run or plot that does not exist."""


def productions_page(readable: Callable[[Iterable[str]], set[str]]) -> dict[str, Any]:
    """The library's rows whose DAG ``readable`` keeps (the user's rights)."""
    library = read_library()
    invalid = invalid_entry_rows(library)
    allowed = readable(
        [*(dag_id_for(prod_id) for prod_id in library.productions), *(r.dag_id for r in invalid)]
    )
    rows = [
        production_row(p)
        for prod_id, p in sorted(library.productions.items())
        if dag_id_for(prod_id) in allowed
    ]
    rows += [row for row in invalid if row.dag_id in allowed]
    rows.sort(key=lambda row: row.prod_id)
    return {
        "library_root": str(library.root),
        "rows": rows,
        "latest": airflow_db.latest_runs(row.dag_id for row in rows),
        "errors": [str(error) for error in library.errors.values()],
    }


def find_production(prod_id: str) -> ProductionParts[ProductionConfig]:
    production = read_library().productions.get(prod_id)
    if production is None:
        raise NotFound(f"no production with prod_id {prod_id!r} in the library")
    return production


def production_plots(production: ProductionParts[ProductionConfig]) -> list[run_files.PlotSource]:
    """The plots of every config of the production (the default's first), each path once;
    names stay unique (``rf-importance-<n>``, ...) because a URL names a plot, never a path."""
    by_path: dict[str, run_files.PlotSource] = {}
    for label in production.labels:
        for plot in run_files.plot_sources(production.find(label)):
            by_path.setdefault(plot.path, plot)
    counts: Counter[str] = Counter()
    plots = []
    for plot in by_path.values():
        kind = plot.name.rsplit("-", 1)[0]
        plots.append(replace(plot, name=f"{kind}-{counts[kind]}"))
        counts[kind] += 1
    return plots


def run_config(production: ProductionParts[ProductionConfig], run: airflow_db.RunInfo) -> str:
    """The label of the config ``run`` ran: its ``config`` param, else the default."""
    chosen = run.conf.get("config")
    return chosen if isinstance(chosen, str) and chosen else production.labels[0]


def live_states(
    production: ProductionParts[ProductionConfig], tasks: dict[str, airflow_db.TaskRecord]
) -> dict[str, str]:
    """Element states of the stages still waiting on Slurm (one sacct for all of them)."""
    waiting = [
        tasks[stage]
        for stage in stages_to_run(production)
        if stage in tasks and tasks[stage].state in LIVE_TASK_STATES and tasks[stage].plans
    ]
    return live.element_states(sorted({j for r in waiting for j in watched_jobs(r.plans[-1])}))


def stage_table(
    production: ProductionParts[ProductionConfig],
    tasks: dict[str, airflow_db.TaskRecord],
    states: dict[str, str],
) -> list[StageProgress]:
    """Each stage's progress; stages still waiting on Slurm get ``states`` (``live_states``)."""
    table = []
    for stage in stages_to_run(production):
        record = tasks.get(stage)
        if record is None:
            table.append(StageProgress(stage=stage, task_state=None))
        else:
            table.append(stage_progress(stage, record.state, record.xcoms, record.plans, states))
    return table


def lineage_table(
    production: ProductionConfig,
    tasks: dict[str, airflow_db.TaskRecord],
    states: dict[str, str],
) -> list[LineageRow]:
    """Per lineage group (e.g. declination), each stage's elements; empty for one group."""
    lineage = build_lineage(production)
    if len(lineage.groups) < 2:
        return []
    records = {
        stage: StageRecord(record.spec, record.plans, record.xcoms)
        for stage, record in tasks.items()
    }
    return lineage_rows(lineage, stages_to_run(production), records, states)


def histograms(provenance: dict[str, Any]) -> list[tuple[str, Markup, Markup]]:
    """Per stage with sacct data: runtime (minutes) and peak memory (MiB) histograms."""
    result = []
    for stage, info in (provenance.get("stages") or {}).items():
        elements = info.get("elements") or []
        if not elements:
            continue
        minutes = [e["elapsed_s"] / 60 for e in elements if e.get("elapsed_s") is not None]
        mib = [e["max_rss_bytes"] / 2**20 for e in elements if e.get("max_rss_bytes") is not None]
        result.append(
            (
                stage,
                Markup(svg_histogram(minutes, f"{stage}: runtime", "min")),
                Markup(svg_histogram(mib, f"{stage}: peak memory (MaxRSS)", "MiB")),
            )
        )
    return result


@dataclass(frozen=True)
class ProvenanceView:
    document: dict[str, Any] | None
    path: str
    note: str


def provenance_of(prod_id: str, run_id: str, tasks_state: str | None) -> ProvenanceView:
    path = provenance_path(prod_id, run_id)
    if tasks_state != "success":
        note = f"The {PROVENANCE_TASK_ID} task of this run is {tasks_state or 'not run yet'}."
        return ProvenanceView(None, path, note)
    document = run_files.read_json(path)
    note = "" if document else f"{path} could not be read from the cluster."
    return ProvenanceView(document, path, note)


def production_page(prod_id: str, run_id: str | None) -> dict[str, Any]:
    production = find_production(prod_id)
    row = production_row(production)
    runs = airflow_db.runs_of(row.dag_id)
    run = next((r for r in runs if r.run_id == run_id), None) if run_id else None
    if run_id and run is None:
        raise NotFound(f"DAG {row.dag_id} has no run {run_id!r} among its newest runs")
    run = run or (runs[0] if runs else None)
    page: dict[str, Any] = {
        "row": row,
        "run": run,
        "runs": runs,
        "stages": [],
        "run_config": "",
        "lineages": [],
        "plots": run_files.plot_views(production_plots(production)),
        "histograms": [],
        "provenance": None,
        "provenance_path": "",
        "provenance_note": "",
    }
    if run is None:
        return page
    tasks = airflow_db.run_tasks(row.dag_id, run.run_id)
    page["run_config"] = run_config(production, run)
    states = live_states(production, tasks)
    page["stages"] = stage_table(production, tasks, states)
    page["lineages"] = lineage_table(production.find(page["run_config"]), tasks, states)
    provenance_task = tasks.get(PROVENANCE_TASK_ID)
    view = provenance_of(prod_id, run.run_id, provenance_task.state if provenance_task else None)
    page.update(
        provenance=view.document,
        provenance_path=view.path,
        provenance_note=view.note,
        histograms=histograms(view.document) if view.document else [],
    )
    return page


def plot_bytes(prod_id: str, name: str, version: str | None) -> bytes:
    """The plot's bytes; ``version`` is the page's token of the file (asked now if absent)."""
    production = find_production(prod_id)
    for plot in production_plots(production):
        if plot.name == name:
            version = version or run_files.file_version(plot.path)
            data = run_files.read_file(plot.path, version) if version else None
            if data is None:
                raise NotFound(f"plot {name} ({plot.path}) is not on the cluster (yet)")
            return data
    raise NotFound(f"production {prod_id!r} has no plot {name!r}")


def provenance_document(prod_id: str, run_id: str) -> dict[str, Any]:
    find_production(prod_id)
    if not airflow_db.run_exists(dag_id_for(prod_id), run_id):  # before any cluster read
        raise NotFound(f"DAG {dag_id_for(prod_id)} has no run {run_id!r}")
    document = run_files.read_json(provenance_path(prod_id, run_id))
    if document is None:
        raise NotFound(f"no provenance.json for run {run_id!r} of {prod_id!r}")
    return document


def nights_page() -> dict[str, Any]:
    return {
        "nights": night_statuses(),
        "keys": ROW_KEYS,
        "dag_id": NIGHTLY_DAG_ID,
        "task_id": STATUS_TASK_ID,
    }
