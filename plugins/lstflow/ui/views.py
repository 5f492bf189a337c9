"""What each page shows, assembled from the library, the metadata DB and the cluster files.

Routes (``app.py``) stay thin: they call these and render a template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from lstflow.config.model import ProductionConfig
from lstflow.onsite.status import ROW_KEYS
from lstflow.productions.run_provenance import TASK_ID as PROVENANCE_TASK_ID
from lstflow.productions.run_provenance import provenance_path
from lstflow.stages.registry import stages_to_run
from lstflow.ui import airflow_db, live, run_files
from lstflow.ui.histograms import svg_histogram
from lstflow.ui.nights import NIGHTLY_DAG_ID, STATUS_TASK_ID, night_statuses
from lstflow.ui.production_rows import production_row, read_library
from lstflow.ui.progress import StageProgress, stage_progress, watched_jobs

LIVE_TASK_STATES = frozenset({"running", "deferred"})


class NotFound(LookupError):
    """The page names a production, run or plot that does not exist."""


def productions_page() -> dict[str, Any]:
    library = read_library()
    rows = [production_row(p.default) for _, p in sorted(library.productions.items())]
    return {
        "library_root": str(library.root),
        "rows": rows,
        "latest": airflow_db.latest_runs(row.dag_id for row in rows),
        "errors": [str(error) for error in library.errors.values()],
    }


def find_production(prod_id: str) -> ProductionConfig:
    production = read_library().productions.get(prod_id)
    if production is None:
        raise NotFound(f"no production with prod_id {prod_id!r} in the library")
    return production.default


def stage_table(
    production: ProductionConfig, tasks: dict[str, airflow_db.TaskRecord]
) -> list[StageProgress]:
    """Each stage's progress; stages still waiting on Slurm get live states (one sacct)."""
    waiting = [
        tasks[stage]
        for stage in stages_to_run(production)
        if stage in tasks and tasks[stage].state in LIVE_TASK_STATES and tasks[stage].plans
    ]
    states = live.element_states(sorted({j for r in waiting for j in watched_jobs(r.plans[-1])}))
    table = []
    for stage in stages_to_run(production):
        record = tasks.get(stage)
        if record is None:
            table.append(StageProgress(stage=stage, task_state=None))
        else:
            table.append(stage_progress(stage, record.state, record.xcoms, record.plans, states))
    return table


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
        "plots": run_files.plot_sources(production),
        "histograms": [],
        "provenance": None,
        "provenance_path": "",
        "provenance_note": "",
    }
    if run is None:
        return page
    tasks = airflow_db.run_tasks(row.dag_id, run.run_id)
    page["stages"] = stage_table(production, tasks)
    provenance_task = tasks.get(PROVENANCE_TASK_ID)
    view = provenance_of(prod_id, run.run_id, provenance_task.state if provenance_task else None)
    page.update(
        provenance=view.document,
        provenance_path=view.path,
        provenance_note=view.note,
        histograms=histograms(view.document) if view.document else [],
    )
    return page


def plot_bytes(prod_id: str, name: str) -> bytes:
    production = find_production(prod_id)
    for plot in run_files.plot_sources(production):
        if plot.name == name:
            data = run_files.read_file(plot.path)
            if data is None:
                raise NotFound(f"plot {name} ({plot.path}) is not on the cluster (yet)")
            return data
    raise NotFound(f"production {prod_id!r} has no plot {name!r}")


def provenance_document(prod_id: str, run_id: str) -> dict[str, Any]:
    find_production(prod_id)
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
