"""The typed production config: what an lstmcpipe YAML means, after validation.

Paths are strings, not ``Path``: they name files on the cluster, not on the machine that parses.
Each entry class knows where its fields live in the YAML (``YAML_KEYS``), which is what the
validator, the env-var expansion and the YAML writer share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar, TypeVar

from lstflow.config.errors import ConfigWarning

# lstmcpipe's stage order: its code submits stages in this order whatever the YAML list says.
STAGE_ORDER: tuple[str, ...] = (
    "r0_to_dl1",
    "dl1ab",
    "train_test_split",
    "merge_dl1",
    "train_pipe",
    "dl1_to_dl2",
    "dl2_to_irfs",
    "dl2_to_sensitivity",
)
WORKFLOW_KINDS: tuple[str, ...] = ("lstchain", "ctapipe", "hiperta")
DEFAULT_TEST_RATIO = 0.5

SlurmOptions = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SourceEnvironment:
    """How a job activates the analysis environment: a conda install + env, or a plain venv."""

    source_file: str
    conda_env: str | None = None

    def prologue(self) -> tuple[tuple[str, ...], ...]:
        """Argv lines run before every job command (``ArraySpec.prologue``)."""
        steps: list[tuple[str, ...]] = [("source", self.source_file)]
        if self.conda_env:
            steps.append(("conda", "activate", self.conda_env))
        return tuple(steps)

    @property
    def label(self) -> str:
        """A short human name: the conda env, or the venv's activate script."""
        return self.conda_env or self.source_file


@dataclass(frozen=True, slots=True)
class SlurmConfig:
    """``user_account``: ``None`` means no ``--account`` at all (lstmcpipe emitted an empty
    ``--account=``). ``plot_rf_feat``: sbatch options of the feature-importance plot jobs,
    overriding their own defaults (lstmcpipe's ``short``, 16 GB); never the training's."""

    user_account: str | None = None
    plot_rf_feat: SlurmOptions = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StageEntry:
    """Fields every entry has: its position in the YAML list and its extra sbatch options.

    ``extra_slurm_options`` are ``(name, value)`` pairs, values verbatim strings (``11:30:00``),
    applied last like lstmcpipe does; ``legacy_slurm_options`` are the deprecated
    ``slurm_options`` string, translated (lstmcpipe 0.11.5 ignores it, lstflow applies it under
    ``extra_slurm_options``).
    """

    STAGE: ClassVar[str] = ""
    # field name -> dotted YAML key inside the entry, in the order lstmcpipe writes them
    YAML_KEYS: ClassVar[tuple[tuple[str, str], ...]] = ()

    index: int = 0
    extra_slurm_options: SlurmOptions = ()
    legacy_slurm_options: SlurmOptions = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class R0ToDl1Entry(StageEntry):
    STAGE: ClassVar[str] = "r0_to_dl1"
    YAML_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (("input", "input"), ("output", "output"))
    input: str
    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Dl1abEntry(StageEntry):
    STAGE: ClassVar[str] = "dl1ab"
    YAML_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (("input", "input"), ("output", "output"))
    input: str
    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainTestSplitEntry(StageEntry):
    """``ratio`` is the test fraction (lstmcpipe's ``output.ratio``, default 0.5)."""

    STAGE: ClassVar[str] = "train_test_split"
    YAML_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("input", "input"),
        ("train", "output.train"),
        ("test", "output.test"),
        ("ratio", "output.ratio"),
    )
    input: str
    train: str
    test: str
    ratio: float = DEFAULT_TEST_RATIO


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeDl1Entry(StageEntry):
    """``options`` is appended verbatim to ``lstchain_merge_hdf5_files`` (e.g. ``--no-image``)."""

    STAGE: ClassVar[str] = "merge_dl1"
    YAML_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("input", "input"),
        ("output", "output"),
        ("options", "options"),
    )
    input: str
    output: str
    options: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainPipeEntry(StageEntry):
    STAGE: ClassVar[str] = "train_pipe"
    YAML_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("gamma", "input.gamma"),
        ("proton", "input.proton"),
        ("output", "output"),
    )
    gamma: str
    proton: str
    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Dl1ToDl2Entry(StageEntry):
    STAGE: ClassVar[str] = "dl1_to_dl2"
    YAML_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("input", "input"),
        ("path_model", "path_model"),
        ("output", "output"),
    )
    input: str
    output: str
    path_model: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Dl2ToIrfsEntry(StageEntry):
    """A missing proton or electron file drops that flag of ``lstchain_create_irf_files``."""

    STAGE: ClassVar[str] = "dl2_to_irfs"
    YAML_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("gamma_file", "input.gamma_file"),
        ("proton_file", "input.proton_file"),
        ("electron_file", "input.electron_file"),
        ("output", "output"),
        ("options", "options"),
    )
    gamma_file: str
    output: str
    proton_file: str | None = None
    electron_file: str | None = None
    options: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Dl2ToSensitivityEntry(StageEntry):
    STAGE: ClassVar[str] = "dl2_to_sensitivity"
    YAML_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("gamma_file", "input.gamma_file"),
        ("proton_file", "input.proton_file"),
        ("electron_file", "input.electron_file"),
        ("output", "output"),
    )
    gamma_file: str
    proton_file: str
    electron_file: str
    output: str


Entry = (
    R0ToDl1Entry
    | Dl1abEntry
    | TrainTestSplitEntry
    | MergeDl1Entry
    | TrainPipeEntry
    | Dl1ToDl2Entry
    | Dl2ToIrfsEntry
    | Dl2ToSensitivityEntry
)

ENTRY_TYPES: dict[str, type[StageEntry]] = {
    cls.STAGE: cls
    for cls in (
        R0ToDl1Entry,
        Dl1abEntry,
        TrainTestSplitEntry,
        MergeDl1Entry,
        TrainPipeEntry,
        Dl1ToDl2Entry,
        Dl2ToIrfsEntry,
        Dl2ToSensitivityEntry,
    )
}
# Fields holding paths: the only strings where ``${VAR}`` is expanded.
PATH_FIELDS: frozenset[str] = frozenset(
    {"input", "output", "train", "test", "gamma", "proton", "path_model"}
    | {"gamma_file", "proton_file", "electron_file"}
)


@dataclass(frozen=True, slots=True)
class ProductionHeader:
    """A production without its entries: all the DAG factory needs (``load_header``).

    ``stage_names`` are the stages the YAML defines (run or not), in ``STAGE_ORDER``;
    ``stages_to_run`` is in ``STAGE_ORDER`` too, because lstmcpipe ignores the list order.
    """

    path: Path
    prod_id: str
    workflow_kind: str
    source_environment: SourceEnvironment
    slurm_config: SlurmConfig
    stages_to_run: tuple[str, ...]
    stage_names: tuple[str, ...] = ()
    lstchain_config: Path | None = None
    readme: Path | None = None
    dl1_noise_tune_data_run: str | None = None
    dl1_noise_tune_mc_run: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductionConfig(ProductionHeader):
    """One validated production, entries included: what the planners need.

    ``stages`` holds the entries of every stage the YAML defines, in ``STAGE_ORDER``;
    ``stage_names`` follows from it.
    """

    stages: Mapping[str, tuple[StageEntry, ...]]
    lstmcpipe_version: str | None = None
    prod_type: str | None = None
    warnings: tuple[ConfigWarning, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage_names", tuple(self.stages))

    def entries(self, stage: str) -> tuple[StageEntry, ...]:
        """The entries of ``stage`` (empty when the YAML does not define it)."""
        return self.stages.get(stage, ())

    def entry_counts(self) -> dict[str, int]:
        """Entries per stage that will run, in stage order."""
        return {stage: len(self.entries(stage)) for stage in self.stages_to_run}

    def header(self) -> ProductionHeader:
        """What ``load_header`` gives for the same file."""
        return ProductionHeader(
            **{name.name: getattr(self, name.name) for name in fields(ProductionHeader)}
        )


# A production as the loaders give it: complete, or its header only.
Loaded = TypeVar("Loaded", ProductionConfig, ProductionHeader)
