"""Planning one production stage for a run: what the stage task and the lineage feeder share.

Publish the lstchain config, plan the stage's work items, apply the run's overwrite policy and
write the run record users read; all on the cluster, through ``ClusterFiles``.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from airflow.sdk.exceptions import AirflowFailException

from lstflow.config.model import ProductionConfig
from lstflow.product_base.options import job_python, log_root
from lstflow.slurm.cluster_files import ClusterFiles, TargetExists
from lstflow.stages.base import PlanContext, StagePlan
from lstflow.stages.file_batches import InputDirectoryError
from lstflow.stages.registry import plan_stage
from lstflow.workitems import ArraySpec, WorkItem

SHOWN_EXISTING = 10


class InfoLog(Protocol):
    """Where the overwrite policy says what it did (a task's logger)."""

    def info(self, event: str, *args: Any) -> Any: ...


@dataclass(frozen=True)
class RunConfigRecord:
    """Which config of the production a run chose (for the run record)."""

    label: str
    path: str


def plan_for_run(
    production: ProductionConfig,
    stage: str,
    files: ClusterFiles,
    label: str,
    *,
    publish: bool = True,
    lstchain_config: str | None = None,
) -> StagePlan:
    """``stage``'s plan for the run ``label``; an unlistable input directory fails the task.

    ``lstchain_config``: the cluster copy of the config, when the caller already published it
    (the lineage feeder plans every stage with one copy)."""
    context = PlanContext(
        prod_id=production.prod_id,
        lstchain_config=lstchain_config
        or publish_lstchain_config(production, files, publish=publish),
        log_root=log_root(),
        run_label=label,
        slurm_config=production.slurm_config,
        python=job_python(),
        files=files,
    )
    try:
        return plan_stage(production, stage, context)
    except InputDirectoryError as error:
        raise AirflowFailException(f"{production.path}:\n{error}") from error


def publish_lstchain_config(
    production: ProductionConfig, files: ClusterFiles, *, publish: bool = True
) -> str:
    """Copy the lstchain config to the cluster under a content-addressed name.

    The jobs read this copy, so they see the config this run was planned with, and the
    production's log directory keeps a record of it. A dry run (``publish=False``) only names
    the copy.
    """
    if production.lstchain_config is None:
        raise AirflowFailException(
            f"{production.path}: no lstchain config JSON beside the production config"
        )
    text = production.lstchain_config.read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    remote = posixpath.join(
        log_root(), production.prod_id, "config", f"lstchain_config_{digest}.json"
    )
    if publish and not files.existing([remote]):
        files.write(remote, text)
    return remote


def apply_overwrite_policy(
    stage: str,
    files: ClusterFiles,
    items: Sequence[WorkItem],
    policy: str,
    label: str,
    log: InfoLog,
    existing_outputs: set[str] | None = None,
) -> tuple[WorkItem, ...]:
    """Never delete outputs at submission: refuse, skip done elements, or move them aside.

    Returns the items to run (``skip`` leaves out those whose outputs all exist).
    ``existing_outputs``: which of the run's outputs exist, when the caller asked the cluster
    once for several stages; otherwise asked here.
    """
    outputs = {path for item in items for path in item.outputs}
    existing = files.existing(outputs) if existing_outputs is None else outputs & existing_outputs
    if not existing:
        return tuple(items)
    if policy == "refuse":
        shown = "\n  ".join(sorted(existing)[:SHOWN_EXISTING])
        raise AirflowFailException(
            f"{stage}: {len(existing)} output(s) already exist, e.g.\n  {shown}\n"
            "Nothing was submitted and nothing was deleted. Trigger again with "
            "overwrite='skip' to run only the missing outputs, or overwrite='overwrite' to "
            "replace them (existing outputs are renamed aside, not deleted)."
        )
    if policy == "skip":
        remaining = tuple(item for item in items if not set(item.outputs) <= existing)
        log.info(
            "%s: skipping %d element(s) whose outputs all exist%s",
            stage,
            len(items) - len(remaining),
            "" if remaining else ": nothing to submit, the stage is already done",
        )
        return remaining
    try:
        files.move_aside(sorted(existing), f".replaced-{label}")
    except TargetExists as error:
        raise AirflowFailException(
            f"{stage}: {error}; an output renamed aside is never replaced, so nothing "
            "was submitted. Move that file away by hand, or trigger with overwrite='skip'."
        ) from None
    log.info("%s: renamed %d existing output(s) aside", stage, len(existing))
    return tuple(items)


def write_run_record(
    files: ClusterFiles, stage: str, spec: ArraySpec, records: str, config: RunConfigRecord
) -> None:
    """``run_record`` written to the cluster."""
    files.write(*run_record(stage, spec, records, config))


def run_record(
    stage: str, spec: ArraySpec, records: str, config: RunConfigRecord
) -> tuple[str, str]:
    """``<records>/<stage>.json`` and its text: the elements a stage of a run submitted, with
    their commands."""
    record = {
        "stage": stage,
        "config": config.label,
        "config_path": config.path,
        "log_dir": spec.log_dir,
        "elements": [
            {"key": item.key, "command": shlex.join(item.argv), "outputs": item.outputs}
            for item in spec.items
        ],
    }
    return posixpath.join(records, f"{stage}.json"), json.dumps(record, indent=1)


def records_dir(log_dir: str, label: str) -> str:
    """``<log_root>/<prod_id>/runs/<run>/`` from a stage's log dir: what each stage submitted."""
    return posixpath.join(posixpath.dirname(log_dir), "runs", label)
