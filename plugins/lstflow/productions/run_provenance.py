"""Provenance of one production DAG run, written next to its run records on the cluster.

The last task of every production DAG (a teardown: it runs once all stages are done, failed runs
included, and never changes the run's state) writes
``<log_root>/<prod_id>/runs/<run>/provenance.json``: which of the production's configs the run
chose (``config``, its label), that config and the lstchain config with their hashes, the
software versions of the Airflow side (this process) and of the analysis environment (asked over
SSH through the production's ``source_environment``), every Slurm job of the run with what each
element used (sacct: Elapsed, MaxRSS, State), and the inputs and outputs with their sizes
(through the Slurm layer's ``element_usage`` and ``ClusterFiles``). The UI
shows it and draws the runtime/memory histograms from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import posixpath
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from lstflow.config.model import PATH_FIELDS, ProductionConfig
from lstflow.jobs.software import software_versions
from lstflow.product_base.options import log_root
from lstflow.productions.stage_operator import load_for_run
from lstflow.run_label import run_label
from lstflow.slurm.cluster_files import ClusterFiles
from lstflow.slurm.hook import ElementId, ElementStatus, SlurmHook
from lstflow.slurm.reports import pull_report

FORMAT = "lstflow-provenance-run/1"
PROVENANCE_FILE = "provenance.json"
TASK_ID = "provenance"
AIRFLOW_SIDE = ("apache-airflow", "apache-airflow-providers-ssh", "lstflow")
ANALYSIS_SIDE = ("lstflow", "lstchain", "ctapipe", "pyirf")
# Config fields naming what a stage writes; every other path field is an input.
OUTPUT_FIELDS = frozenset({"output", "train", "test"})


def run_dir(prod_id: str, run_id: str) -> str:
    """``<log_root>/<prod_id>/runs/<run>``: the stage operator's run records live there too."""
    return posixpath.join(log_root(), prod_id, "runs", run_label(run_id))


def provenance_path(prod_id: str, run_id: str) -> str:
    return posixpath.join(run_dir(prod_id, run_id), PROVENANCE_FILE)


# ---- pure helpers (unit-tested) ------------------------------------------------------------


def config_paths(production: ProductionConfig, stages: Iterable[str]) -> dict[str, list[str]]:
    """The paths the config names for the run stages: ``{"inputs": [...], "outputs": [...]}``.

    A path written by one stage and read by the next is an output only.
    """
    inputs: list[str] = []
    outputs: list[str] = []
    for stage in stages:
        for entry in production.entries(stage):
            for name in sorted(PATH_FIELDS):
                value = getattr(entry, name, None)
                if isinstance(value, str) and value:
                    (outputs if name in OUTPUT_FIELDS else inputs).append(value)
    produced = set(outputs)
    return {
        "inputs": sorted({p for p in inputs if p not in produced}),
        "outputs": sorted(produced),
    }


def config_record(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    text = path.read_text(errors="replace")
    return {"path": str(path), "sha256": hashlib.sha256(text.encode()).hexdigest(), "text": text}


# ---- remote queries ------------------------------------------------------------------------


def usage_rows(usage: Mapping[ElementId, ElementStatus], job_ids: set[str]) -> list[dict[str, Any]]:
    """The provenance rows of the elements of ``job_ids``: state, elapsed and peak memory."""
    return [
        {
            "job_id": str(element),
            "state": str(status.state),
            "elapsed_s": status.elapsed_s,
            "max_rss_bytes": status.max_rss_bytes,
        }
        for element, status in sorted(usage.items(), key=lambda pair: str(pair[0]))
        if element.job_id in job_ids
    ]


def analysis_versions(hook: SlurmHook, production: ProductionConfig) -> dict[str, Any]:
    """The analysis environment's versions, asked of its own Python through source_environment."""
    probe = (
        "import json, platform\nfrom importlib import metadata\n"
        "def v(n):\n    try:\n        return metadata.version(n)\n"
        "    except metadata.PackageNotFoundError:\n        return None\n"
        f"print(json.dumps({{'python': platform.python_version(), "
        f"**{{n: v(n) for n in {list(ANALYSIS_SIDE)!r}}}}}))"
    )
    prologue = " && ".join(shlex.join(line) for line in production.source_environment.prologue())
    result = hook.run(f"{prologue} && python -c {shlex.quote(probe)}")
    if result.exit_status != 0:
        return {"error": result.stderr.strip()[-2000:] or f"exit {result.exit_status}"}
    try:
        versions: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):  # e.g. a stand-in python that prints nothing
        return {"error": f"no versions printed: {result.stdout.strip()[-2000:]!r}"}
    return versions


# ---- the task ------------------------------------------------------------------------------


class ProductionProvenanceOperator(BaseOperator):
    """Write a production run's ``provenance.json`` on the cluster and return its path."""

    template_fields: Sequence[str] = ("ssh_conn_id",)
    ui_color = "#e8f4e8"

    def __init__(
        self,
        *,
        config_paths: Mapping[str, str],
        stages: Sequence[str],
        ssh_conn_id: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config_paths = dict(config_paths)
        self.stages = tuple(stages)
        self.ssh_conn_id = ssh_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        chosen = load_for_run(self.config_paths, context["params"])
        production = chosen.production
        hook = SlurmHook(self.ssh_conn_id)
        ti = context["ti"]
        run_id = context["run_id"]
        stages: dict[str, Any] = {}
        for stage in self.stages:
            report = pull_report(ti, stage)
            stages[stage] = {
                "job_ids": list(report.job_ids) if report else [],
                "total": report.total if report else 0,
                "completed": report.completed if report else 0,
                "failed": len(report.failed) if report else 0,
            }
        all_jobs = sorted({j for s in stages.values() for j in s["job_ids"]}, key=int)
        usage = hook.element_usage(all_jobs)
        for info in stages.values():
            info["elements"] = usage_rows(usage, set(info["job_ids"]))
        # the paths of the stages the chosen config runs (another part's stages are not its)
        paths = config_paths(production, [s for s in self.stages if s in production.stages_to_run])
        files = ClusterFiles(hook)
        sizes = {
            path: asdict(size)
            for path, size in files.sizes(paths["inputs"] + paths["outputs"]).items()
        }
        document = {
            "format": FORMAT,
            "prod_id": production.prod_id,
            "config": chosen.label,
            "dag_id": ti.dag_id,
            "run_id": run_id,
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "configs": {
                "production": config_record(production.path),
                "lstchain": config_record(production.lstchain_config),
            },
            "software": {
                "airflow_side": software_versions(AIRFLOW_SIDE),
                "analysis_side": {
                    "environment": production.source_environment.label,
                    **analysis_versions(hook, production),
                },
            },
            "stages": stages,
            "inputs": [sizes.get(p, {"path": p, "kind": "unknown"}) for p in paths["inputs"]],
            "outputs": [sizes.get(p, {"path": p, "kind": "unknown"}) for p in paths["outputs"]],
        }
        path = provenance_path(production.prod_id, run_id)
        files.write(path, json.dumps(document, indent=1) + "\n")
        self.log.info("provenance of %s written to %s", run_id, path)
        return {"path": path, "jobs": len(all_jobs), "elements": len(usage)}
