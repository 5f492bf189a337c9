"""What every stage planner shares: the planning context, file listing and resource merging."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lstflow.config.model import SlurmConfig, SlurmOptions, StageEntry
from lstflow.stages.inputs import PlannedInput
from lstflow.workitems import Resources, WorkItem

# lstmcpipe submits every job to `short` unless a stage default says otherwise.
DEFAULT_PARTITION = "short"


class FileLister(Protocol):
    """Lists directories where the jobs will run (the cluster's filesystem), in one go."""

    def list_directories(
        self, directories: Sequence[str], patterns: Sequence[str]
    ) -> dict[str, list[str] | None]:
        """Per directory, its sorted files matching any glob pattern (non-recursive), or None
        when the directory does not exist."""


@dataclass(frozen=True)
class PlanContext:
    """What a planner needs besides the config entries."""

    prod_id: str
    lstchain_config: str
    log_root: str
    run_label: str = "plan"
    slurm_config: SlurmConfig = field(default_factory=SlurmConfig)
    python: str = "python"
    # None: plan without seeing the data (``lstflow plan --no-inputs``); stages whose elements
    # depend on listing inputs report those inputs as unlisted instead.
    files: FileLister | None = None

    def stage_log_dir(self, stage: str) -> str:
        return posixpath.join(self.log_root, self.prod_id, stage)

    @property
    def failed_outputs_dir(self) -> str:
        return posixpath.join(self.log_root, self.prod_id, "failed_outputs")

    def job_module(self, module: str, *args: str) -> tuple[str, ...]:
        """argv running one of lstflow's job-side modules in the analysis environment."""
        return (self.python, "-m", f"lstflow.jobs.{module}", *args)


Argv = tuple[str, ...]


@dataclass(frozen=True)
class StagePlan:
    """A stage's work items, plus the small files (e.g. batch manifests) they read.

    ``tool_commands`` holds, per work item key, the analysis tool command lines an element runs
    when its argv is a job-side wrapper (a file batch): what people want to read in a plan or a
    dry run is ``lstchain_mc_r0_to_dl1 ...``, not ``python -m lstflow.jobs.batch ...``.
    ``unlisted_inputs`` are the input directories of a plan made without seeing the data
    (``PlanContext.files`` is None): their elements are unknown, not an error. ``inputs`` are
    the files and directories the items read, checked before submission.
    """

    stage: str
    items: tuple[WorkItem, ...]
    log_dir: str
    files: tuple[tuple[str, str], ...] = ()
    tool_commands: tuple[tuple[str, tuple[Argv, ...]], ...] = ()
    unlisted_inputs: tuple[str, ...] = ()
    inputs: tuple[PlannedInput, ...] = ()

    def commands_of(self, item: WorkItem) -> tuple[Argv, ...]:
        """The tool command lines ``item`` runs (its argv when it runs one tool itself)."""
        return dict(self.tool_commands).get(item.key, (item.argv,))


# Where a work item's sbatch option came from (``WorkItem.resource_sources``), lowest first.
STAGE_DEFAULT = "stage default"
SLURM_CONFIG = "slurm_config"
LEGACY_SLURM_OPTIONS = "slurm_options (legacy)"
EXTRA_SLURM_OPTIONS = "extra_slurm_options"
OptionLayers = tuple[tuple[str, SlurmOptions], ...]


@dataclass(frozen=True)
class PlannedResources:
    """A work item's resources and, per sbatch option, the source of its value."""

    resources: Resources
    sources: tuple[tuple[str, str], ...]


def entry_layers(entry: StageEntry, context: PlanContext) -> OptionLayers:
    """An entry's own options: the legacy ``slurm_options``, then ``extra_slurm_options``."""
    return (
        (LEGACY_SLURM_OPTIONS, entry.legacy_slurm_options),
        (EXTRA_SLURM_OPTIONS, entry.extra_slurm_options),
    )


# sbatch options that ``Resources`` holds in fields of its own (the rest go to ``extra``).
RESOURCE_FIELDS = {"partition": "partition", "mem": "mem", "time": "time", "account": "account"}


def stage_resources(
    context: PlanContext, defaults: Resources, layers: OptionLayers
) -> PlannedResources:
    """lstmcpipe's precedence: `short` ← stage defaults ← account ← ``layers`` in order.

    An option a layer sets that ``Resources`` has a field for replaces that field, so items
    asking for the same sbatch options share one job array wherever each value came from.
    """
    fields: dict[str, Any] = {
        "partition": defaults.partition or DEFAULT_PARTITION,
        "mem": defaults.mem,
        "time": defaults.time,
        "cpus_per_task": defaults.cpus_per_task,
        "account": context.slurm_config.user_account or None,
    }
    sources = {name: STAGE_DEFAULT for name, _ in Resources(**fields).sbatch_options()}
    if fields["account"]:
        sources["account"] = SLURM_CONFIG
    extra: dict[str, str] = {}
    for source, options in layers:
        for name, value in options:
            sources[name] = source
            if name in RESOURCE_FIELDS:
                fields[RESOURCE_FIELDS[name]] = value
            elif name == "cpus-per-task" and value.isdigit():
                fields["cpus_per_task"] = int(value)
            else:
                extra[name] = value
    resources = Resources(**fields, extra=tuple(extra.items()))
    return PlannedResources(
        resources, tuple((name, sources[name]) for name, _ in resources.sbatch_options())
    )
