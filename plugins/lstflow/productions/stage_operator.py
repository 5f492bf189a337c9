"""The task of one production stage: plan its work items when it runs, then run them on Slurm.

Planning happens at run time, not parse time (it lists input directories on the cluster).
``SlurmArrayOperator`` stores the planned ``ArraySpec``, so ``execute_complete`` and a retried
try see exactly the same work and re-attach to its jobs instead of submitting again.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from lstflow.config import ConfigError, load_production
from lstflow.config.model import ProductionConfig
from lstflow.product_base.options import (
    array_throttle,
    config_environment,
    parse_cache_dir,
    slurm_task_settings,
)
from lstflow.productions.dry_run import DryRunPreview
from lstflow.productions.stage_planning import (
    RunConfigRecord,
    apply_overwrite_policy,
    plan_for_run,
    records_dir,
    write_run_record,
)
from lstflow.run_label import run_label
from lstflow.slurm.cluster_files import ClusterFiles
from lstflow.slurm.operator import SlurmArrayOperator
from lstflow.slurm.reports import SlurmReport
from lstflow.stages.base import StagePlan
from lstflow.stages.inputs import INPUT_ADVICE, input_problems
from lstflow.stages.registry import stages_to_run, stages_with_implicit
from lstflow.workitems import ArraySpec, WorkItem

CONFIG_PARAM = "config"


@dataclass(frozen=True)
class RunConfig:
    """The config a run chose among its production's parts (the ``config`` trigger param)."""

    label: str
    production: ProductionConfig


def load_for_run(config_paths: Mapping[str, str], params: Mapping[str, Any]) -> RunConfig:
    """The whole config the run chose, entries validated; any problem fails the task without a
    retry. ``config_paths`` maps each part's label to its file, the default part first.

    The DAG was built from the configs' headers only, so an invalid entry is found here: the
    task fails with the same ``<file>: <yaml key>: <problem> (<fix>)`` lines as
    ``lstflow validate``.
    """
    label = params.get(CONFIG_PARAM) or next(iter(config_paths))
    if label not in config_paths:
        raise AirflowFailException(
            f"config '{label}' is not a config of this production (choices: "
            f"{', '.join(config_paths)})"
        )
    try:
        production = load_production(
            Path(config_paths[label]), cache_dir=parse_cache_dir(), environ=config_environment()
        )
    except ConfigError as error:
        raise AirflowFailException(f"invalid production config:\n{error}") from None
    return RunConfig(label, production)


class ProductionStageOperator(SlurmArrayOperator):
    """One stage of an MC production, planned from its config when the task runs."""

    template_fields: Sequence[str] = ("ssh_conn_id",)

    def __init__(self, *, config_paths: Mapping[str, str], stage: str, **kwargs: Any) -> None:
        """``config_paths``: each config of the production by its label, the default first."""
        if "ssh_conn_id" not in kwargs or "poll" not in kwargs:
            kwargs = {**slurm_task_settings().operator_kwargs(), **kwargs}
        kwargs.setdefault("trigger_rule", "none_failed")
        super().__init__(**kwargs)
        self.config_paths = dict(config_paths)
        self.stage = stage
        self._records = ""
        self._complete_elements = 0

    def execute(self, context: Any) -> Any:
        """A dry run previews the stage and succeeds; a real run plans, submits and waits."""
        if context["params"]["dry_run"]:
            return self._dry_run(context)
        result = super().execute(context)
        if self._complete_elements and not SlurmReport.from_json(result).total:
            # overwrite=skip and every output exists: say so, not "0 of 0".
            count = self._complete_elements
            return SlurmReport(self.stage, total=count, completed=count, job_ids=()).to_json()
        return result

    def spec_ready(self, context: Any, spec: ArraySpec) -> None:
        self._records = records_dir(spec.log_dir, run_label(context["run_id"]))

    def _chosen_config(self, context: Any) -> RunConfig:
        """The run's config of this production; skips the stage when the run does not run it."""
        params = context["params"]
        if self.stage not in stages_with_implicit(params["stages"]):
            raise AirflowSkipException(f"{self.stage} is not among this run's stages")
        chosen = load_for_run(self.config_paths, params)
        if self.stage not in stages_to_run(chosen.production):
            raise AirflowSkipException(
                f"{self.stage} is not among the stages of config {chosen.label} "
                f"({', '.join(chosen.production.stages_to_run)})"
            )
        return chosen

    def _dry_run(self, context: Any) -> dict[str, Any]:
        """Plan, check inputs and outputs, log every command: write and submit nothing."""
        production = self._chosen_config(context).production
        files = self.cluster_files()
        plan = self._plan(production, files, run_label(context["run_id"]), publish=False)
        problems = input_problems(plan.inputs, files.kinds(p.path for p in plan.inputs))
        existing = files.existing(path for item in plan.items for path in item.outputs)
        preview = DryRunPreview.of(plan, existing, problems)
        for line in preview.log_lines():
            self.log.info("%s", line)
        return preview.to_json()

    def build_array_spec(self, context: Any) -> ArraySpec:
        label = run_label(context["run_id"])
        params = context["params"]
        chosen = self._chosen_config(context)
        production = chosen.production
        files = self.cluster_files()
        plan = self._plan(production, files, label)
        problems = input_problems(plan.inputs, files.kinds(p.path for p in plan.inputs))
        if problems:
            raise AirflowFailException(
                f"{production.path}:\n" + "\n".join(problems) + f"\n{INPUT_ADVICE}"
            )
        items = self._apply_overwrite_policy(files, plan.items, params["overwrite"], label)
        spec = ArraySpec(
            name=self.stage,
            items=items,
            log_dir=plan.log_dir,
            workdir=plan.log_dir,
            prologue=production.source_environment.prologue(),
            throttle=array_throttle(),
        )
        for path, content in plan.files:
            files.write(path, content)
        # lstchain tools do not create their output's directory: make them as the job user.
        files.make_dirs(sorted({posixpath.dirname(p) for item in items for p in item.outputs}))
        record = RunConfigRecord(chosen.label, str(production.path))
        write_run_record(files, self.stage, spec, records_dir(spec.log_dir, label), record)
        return spec

    def _plan(
        self, production: ProductionConfig, files: ClusterFiles, label: str, *, publish: bool = True
    ) -> StagePlan:
        return plan_for_run(production, self.stage, files, label, publish=publish)

    def _apply_overwrite_policy(
        self,
        files: ClusterFiles,
        items: Sequence[WorkItem],
        policy: str,
        label: str,
    ) -> tuple[WorkItem, ...]:
        remaining = apply_overwrite_policy(self.stage, files, items, policy, label, self.log)
        if policy == "skip":
            self._complete_elements = len(items) - len(remaining)
        return remaining

    def defer(self, *, trigger: Any, method_name: str, **kwargs: Any) -> None:  # type: ignore[override]
        """Before each deferral, record the job ids and the scancel line users expect."""
        scancel = f"scancel {','.join(sorted(trigger.jobs, key=int))}"
        self.cluster_files().write(
            posixpath.join(self._records, f"{self.stage}.scancel.sh"), scancel + "\n"
        )
        self.log.info(
            "%s: job ids in %s; to cancel by hand: %s", self.stage, self._records, scancel
        )
        super().defer(trigger=trigger, method_name=method_name, **kwargs)
