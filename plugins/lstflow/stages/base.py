"""What every stage planner shares: the planning context, file listing and resource merging."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from lstflow.workitems import Resources, WorkItem

# lstmcpipe submits every job to `short` unless a stage default says otherwise.
DEFAULT_PARTITION = "short"


class FileLister(Protocol):
    """Lists the files of a directory where the jobs will run (the cluster's filesystem)."""

    def list_files(self, directory: str, patterns: Sequence[str]) -> list[str] | None:
        """Sorted file paths matching any glob pattern, non-recursive; None if not listable."""


@dataclass(frozen=True)
class PlanContext:
    """What a planner needs besides the config entries."""

    prod_id: str
    lstchain_config: str
    log_root: str
    run_label: str = "plan"
    account: str | None = None
    python: str = "python"
    files: FileLister | None = None

    def stage_log_dir(self, stage: str) -> str:
        return posixpath.join(self.log_root, self.prod_id, stage)

    @property
    def failed_outputs_dir(self) -> str:
        return posixpath.join(self.log_root, self.prod_id, "failed_outputs")

    def job_module(self, module: str, *args: str) -> tuple[str, ...]:
        """argv running one of lstflow's job-side modules in the analysis environment."""
        return (self.python, "-m", f"lstflow.jobs.{module}", *args)


@dataclass(frozen=True)
class StagePlan:
    """A stage's work items, plus the small files (e.g. batch manifests) they read."""

    stage: str
    items: tuple[WorkItem, ...]
    log_dir: str
    files: tuple[tuple[str, str], ...] = ()


def stage_resources(
    context: PlanContext,
    defaults: Resources,
    extra_slurm_options: Sequence[tuple[str, str]],
) -> Resources:
    """lstmcpipe's precedence: `short` ← stage defaults ← account ← entry's extra options."""
    return Resources(
        partition=defaults.partition or DEFAULT_PARTITION,
        mem=defaults.mem,
        time=defaults.time,
        cpus_per_task=defaults.cpus_per_task,
        account=context.account or None,
        extra=tuple(extra_slurm_options),
    )

