"""Validate the plain data of a production YAML into a ``ProductionConfig``.

Hand-written rather than pydantic so every message has the exact
``<yaml.path>: <problem> (<fix>)`` form, and so every problem of a file is reported at once.
The rules are lstmcpipe 0.11.5's, made strict where lstmcpipe silently ignored things.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lstflow.config.errors import ConfigError, ConfigIssue, ConfigWarning, did_you_mean
from lstflow.config.model import (
    DEFAULT_TEST_RATIO,
    ENTRY_TYPES,
    STAGE_ORDER,
    WORKFLOW_KINDS,
    ProductionConfig,
    ProductionHeader,
    SlurmConfig,
    SlurmOptions,
    SourceEnvironment,
    StageEntry,
)
from lstflow.config.sbatch_options import translate
from lstflow.config.tool_options import STAGE_TOOLS
from lstflow.workitems import RESERVED_OPTIONS

# Scalar kinds of the entry schema; a nested dict is a sub-mapping.
PATH = "path"
OPTIONAL_PATH = "optional path"
OPTIONS = "options"
RATIO = "ratio"
NAME = "name"
Spec = dict[str, tuple[bool, "str | Spec"]]  # key -> (required, kind)

_IN_OUT: Spec = {"input": (True, PATH), "output": (True, PATH)}
ENTRY_SPECS: dict[str, Spec] = {
    "r0_to_dl1": _IN_OUT,
    "dl1ab": _IN_OUT,
    "train_test_split": {
        "input": (True, PATH),
        "output": (True, {"train": (True, PATH), "test": (True, PATH), "ratio": (False, RATIO)}),
        "options": (False, {"test_size": (False, RATIO)}),
    },
    "merge_dl1": {**_IN_OUT, "options": (False, OPTIONS)},
    "train_pipe": {
        "input": (True, {"gamma": (True, PATH), "proton": (True, PATH)}),
        "output": (True, PATH),
    },
    "dl1_to_dl2": {**_IN_OUT, "path_model": (True, PATH)},
    "dl2_to_irfs": {
        "input": (
            True,
            {
                "gamma_file": (True, PATH),
                "proton_file": (False, OPTIONAL_PATH),
                "electron_file": (False, OPTIONAL_PATH),
            },
        ),
        "output": (True, PATH),
        "options": (False, OPTIONS),
    },
    "dl2_to_sensitivity": {
        "input": (
            True,
            {
                "gamma_file": (True, PATH),
                "proton_file": (True, PATH),
                "electron_file": (True, PATH),
            },
        ),
        "output": (True, PATH),
    },
}
SLURM_KEYS = ("extra_slurm_options", "slurm_options")

# What to write when a key is missing, by stage-independent key path.
HINTS: dict[str, str] = {
    "input": "<input file or directory>",
    "output": "<output file or directory>",
    "output.train": "<directory for the training half>",
    "output.test": "<directory for the test half>",
    "input.gamma": "<merged DL1 gamma training file>",
    "input.proton": "<merged DL1 proton training file>",
    "path_model": "<directory of the trained models>",
    "input.gamma_file": "<DL2 gamma file>",
    "input.proton_file": "<DL2 proton file>",
    "input.electron_file": "<DL2 electron file>",
    "source_file": "<conda.sh or a venv's bin/activate>",
    "workflow_kind": "lstchain",
    "prod_id": "<production name>",
    "source_environment": "{source_file: <conda.sh or bin/activate>, conda_env: <env>}",
    "stages_to_run": "[<stage>, ...]",
    "stages": "{<stage>: [{input: ..., output: ...}]}",
}

LEGACY_KEYS = (
    "stages_to_be_run",
    "base_path",
    "base_path_dl0",
    "obs_date",
    "zenith",
    "pointing",
    "particles",
    "offset_gammas",
    "merging_options",
    "irf_config",
)
TOP_LEVEL: Spec = {
    "workflow_kind": (True, NAME),
    "prod_id": (True, NAME),
    "source_environment": (True, {"source_file": (True, PATH), "conda_env": (False, NAME)}),
    "slurm_config": (
        False,
        {"user_account": (False, NAME), "plot_rf_feat": (False, "mapping")},
    ),
    "stages_to_run": (True, "list"),
    "stages": (True, "mapping"),
    "dl1_noise_tune_data_run": (False, PATH),
    "dl1_noise_tune_mc_run": (False, PATH),
    "lstmcpipe_version": (False, NAME),
    "prod_type": (False, NAME),
}
# Keys lstmcpipe accepts and then ignores: a warning, not an error.
IGNORED_KEYS = {
    "dl1_reference_id": "a dead key: lstmcpipe removed its code in 2024",
    "batch_config": "lstmcpipe computes it and overwrites any value given",
}
PROD_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
#: Airflow's DAG ids hold 250 characters and a production's is ``mc_`` + its prod_id: a longer
#: prod_id would be cut, and two of them could share one DAG.
MAX_PROD_ID_LENGTH = 250 - len("mc_")
#: A stage's planned work (its spec and array plan, about 700 bytes per entry as JSON) is stored
#: compressed in Airflow's metadata DB (``lstflow.slurm.array_plan.stored_value``): 20,000
#: entries stay far below 16 MiB, what MySQL's MEDIUMTEXT holds; a longer production is refused.
MAX_ENTRIES = 20_000
SLURM_OPTION_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")
_INVALID = object()


def describe(value: object) -> str:
    """What a YAML value is, for messages; never a repr (a value may be huge or aliased)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class _Checker:
    """Collects errors and warnings while walking one document."""

    def __init__(self) -> None:
        self.errors: list[ConfigIssue] = []
        self.warnings: list[ConfigWarning] = []
        # Per-entry warnings repeat over hundreds of entries: one warning per (stage, text).
        self._entry_warnings: dict[tuple[str, str, str | None], list[int]] = {}

    def error(self, path: str, message: str, fix: str | None = None) -> None:
        self.errors.append(ConfigIssue(path, message, fix))

    def warn(self, path: str, message: str, fix: str | None = None) -> None:
        self.warnings.append(ConfigWarning(path, message, fix))

    def warn_entry(self, stage: str, index: int, message: str, fix: str | None) -> None:
        self._entry_warnings.setdefault((stage, message, fix), []).append(index)

    def all_warnings(self) -> tuple[ConfigWarning, ...]:
        grouped = []
        for (stage, message, fix), indices in self._entry_warnings.items():
            if len(indices) == 1:
                where = f"stages.{stage}[{indices[0]}]"
            else:
                where = f"stages.{stage}[{indices[0]}] and {len(indices) - 1} more entries"
            grouped.append(ConfigWarning(where, message, fix))
        return (*self.warnings, *grouped)

    def mapping(
        self,
        value: object,
        spec: Spec,
        path: str,
        out: dict[str, Any],
        *,
        prefix: str = "",
        also_allowed: tuple[str, ...] = (),
    ) -> bool:
        """Read ``value`` against ``spec`` into ``out`` (dotted keys); False if not a mapping."""
        if not isinstance(value, dict):
            keys = ", ".join(spec)
            self.error(path, f"expected a mapping, got {describe(value)}", f"write the keys {keys}")
            return False
        allowed = (*spec, *also_allowed)
        for key in value:
            if key not in allowed:
                self.error(path, f"unknown key '{key}'", did_you_mean(str(key), allowed))
        for key, (required, kind) in spec.items():
            key_path = f"{path}.{key}" if path else key
            if key not in value:
                if required:
                    hint = HINTS.get(prefix + key, "...")
                    self.error(path, f"missing key '{key}'", f"add '{key}: {hint}'")
                continue
            if isinstance(kind, dict):
                self.mapping(value[key], kind, key_path, out, prefix=f"{prefix}{key}.")
            else:
                out[prefix + key] = self.scalar(value[key], kind, key_path)
        return True

    def tool_options(self, options: str, path: str) -> None:
        """``options`` of ``stages.<stage>[i].options`` against the stage's lstchain tool."""
        tool = STAGE_TOOLS.get(path.removeprefix("stages.").partition("[")[0])
        if tool is None:
            return
        for problem in tool.problems(options):
            self.error(path, problem, f"write only options of {tool.tool}, e.g. '{tool.example}'")

    def scalar(self, value: object, kind: str, path: str) -> object:
        if kind in (OPTIONAL_PATH, OPTIONS, NAME) and value is None:
            return None
        if kind in (PATH, OPTIONAL_PATH):
            if isinstance(value, str) and value.strip():
                return value
            got = "an empty string" if isinstance(value, str) else describe(value)
            self.error(path, f"expected a path, got {got}", "write a file or directory path")
        elif kind == OPTIONS:
            if isinstance(value, str):
                self.tool_options(value, path)
                return value.strip() or None
            self.error(
                path,
                f"expected command-line options as one string, got {describe(value)}",
                "write them as one string, e.g. '--no-image'",
            )
        elif kind == NAME:
            if isinstance(value, str):
                return value.strip() or None
            if isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
            self.error(path, f"expected a string, got {describe(value)}", None)
        elif kind == RATIO:
            if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1:
                return float(value)
            self.error(
                path,
                f"expected the test fraction, a number between 0 and 1, got {describe(value)}",
                "write e.g. 0.5",
            )
        elif kind == "list":
            if isinstance(value, list):
                return value
            self.error(path, f"expected a list, got {describe(value)}", "write '- item' lines")
        elif kind == "mapping":
            if isinstance(value, dict):
                return value
            self.error(path, f"expected a mapping, got {describe(value)}", None)
        return _INVALID

    def slurm_options(
        self, entry: dict[str, Any], stage: str, index: int, path: str
    ) -> tuple[SlurmOptions, SlurmOptions]:
        """The entry's legacy ``slurm_options`` (translated) and its ``extra_slurm_options``."""
        legacy: SlurmOptions = ()
        if entry.get("slurm_options") is not None:
            legacy, ignored = self.legacy_slurm_options(
                entry["slurm_options"], f"{path}.slurm_options"
            )
            for name in ignored:
                message, fix = _reserved(name)
                self.warn_entry(stage, index, f"slurm_options: ignored: {message}", fix)
            applied = " ".join(f"--{name}={value}" for name, value in legacy)
            self.warn_entry(
                stage,
                index,
                "deprecated 'slurm_options': lstmcpipe 0.11.5 ignores it, lstflow applies it"
                + (f" ({applied})" if applied else ""),
                "move it to 'extra_slurm_options: {name: value}'",
            )
        extra = entry.get("extra_slurm_options")
        if extra is None:
            return legacy, ()
        opts_path = f"{path}.extra_slurm_options"
        if not isinstance(extra, dict):
            self.error(
                opts_path,
                f"expected a mapping of Slurm options, got {describe(extra)}",
                "write e.g. 'extra_slurm_options: {mem: 60GB}'",
            )
            return legacy, ()
        return legacy, self.option_mapping(extra, opts_path)

    def option_mapping(self, options: dict[Any, Any], path: str) -> SlurmOptions:
        """A ``{name: value}`` mapping of sbatch long options (``extra_slurm_options``)."""
        checked: dict[str, str] = {}
        for name, value in options.items():
            option = self.slurm_option(name, value, path)
            if option is None:
                continue
            if option[0] in RESERVED_OPTIONS:
                self.error(f"{path}.{name}", *_reserved(option[0]))
                continue
            checked[option[0]] = option[1]
        return tuple(checked.items())

    def slurm_option(self, name: object, value: object, path: str) -> tuple[str, str] | None:
        if not isinstance(name, str) or not SLURM_OPTION_NAME.match(name):
            fix = (
                f"write '{name.lstrip('-')}: ...' without the leading dashes"
                if isinstance(name, str) and name.startswith("-")
                else "use sbatch's long option name, e.g. 'cpus-per-task'"
            )
            self.error(path, f"'{name}' is not a Slurm long option name", fix)
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            fix = (
                "Slurm flags without a value cannot be given here; remove it"
                if value is None
                else "write a single value, e.g. 'mem: 60GB'"
            )
            self.error(f"{path}.{name}", f"expected a value, got {describe(value)}", fix)
            return None
        text = str(value).strip()
        if not text or "\n" in text:
            self.error(f"{path}.{name}", "expected a one-line value", None)
            return None
        return name, text

    def legacy_slurm_options(self, value: object, path: str) -> tuple[SlurmOptions, list[str]]:
        """``"-p xxl --mem=100G"`` -> ``(("partition", "xxl"), ("mem", "100G"))``, and the
        names of the options lstflow sets itself (job name, logs, array), left out: lstmcpipe
        never applied them either.
        """
        if not isinstance(value, str):
            self.error(
                path,
                f"expected a string of sbatch options, got {describe(value)}",
                "move it to 'extra_slurm_options: {name: value}'",
            )
            return (), []
        translation = translate(value)
        for message, fix in translation.problems:
            self.error(path, message, fix)
        options: dict[str, str] = {}
        ignored: list[str] = []
        for name, option_value in translation.options:
            option = self.slurm_option(name, option_value, path)
            if option is None:
                continue
            if option[0] in RESERVED_OPTIONS:
                ignored.append(option[0])
            else:
                options[option[0]] = option[1]
        return tuple(options.items()), ignored


def _reserved(name: str) -> tuple[str, str]:
    """Why option ``name`` cannot come from a config, and what to do instead."""
    if name == "array":
        return (
            "'array' is set by lstflow, which builds the job arrays",
            "delete it; the number of elements running at once is [lstflow] array_throttle",
        )
    return (
        f"'{name}' is set by lstflow itself (it names the jobs and their logs)",
        "delete it",
    )


def build_production(raw: object, path: Path) -> ProductionConfig:
    """The typed config of the document ``raw``; ``ConfigError`` lists all its problems."""
    check, top, stages_to_run = _check_header(raw, path)
    stages = _stages(check, top.get("stages"), stages_to_run)
    entries = sum(len(stage_entries) for stage_entries in stages.values())
    if entries > MAX_ENTRIES:
        check.error(
            "stages",
            f"{entries:,} entries, more than the {MAX_ENTRIES:,} a production may have",
            "split it into several productions (the largest real one has about 3,400)",
        )
    if check.errors:
        raise ConfigError(path, check.errors)
    return ProductionConfig(
        **_header_fields(path, top, stages_to_run),
        stages=stages,
        lstmcpipe_version=top.get("lstmcpipe_version"),
        prod_type=top.get("prod_type"),
        warnings=check.all_warnings(),
    )


def build_header(raw: object, path: Path) -> ProductionHeader:
    """The header of the document ``raw``: every check of ``build_production`` but the entries'.

    ``raw["stages"]`` may map each stage to a placeholder list (``loader.load_header`` does).
    """
    check, top, stages_to_run = _check_header(raw, path)
    names = tuple(_stage_lists(check, top.get("stages"), stages_to_run))
    if check.errors:
        raise ConfigError(path, check.errors)
    return ProductionHeader(**_header_fields(path, top, stages_to_run), stage_names=names)


def _header_fields(
    path: Path, top: dict[str, Any], stages_to_run: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "path": path,
        "prod_id": top["prod_id"],
        "workflow_kind": top["workflow_kind"],
        "source_environment": SourceEnvironment(
            source_file=top["source_environment.source_file"],
            conda_env=top.get("source_environment.conda_env"),
        ),
        "slurm_config": SlurmConfig(
            user_account=top.get("slurm_config.user_account"),
            plot_rf_feat=top.get("slurm_config.plot_rf_feat", ()),
        ),
        "stages_to_run": stages_to_run,
        "dl1_noise_tune_data_run": top.get("dl1_noise_tune_data_run"),
        "dl1_noise_tune_mc_run": top.get("dl1_noise_tune_mc_run"),
    }


def _check_header(raw: object, path: Path) -> tuple[_Checker, dict[str, Any], tuple[str, ...]]:
    """Every top-level check; raises at once for a non-mapping or a pre-2022 document."""
    if not isinstance(raw, dict):
        raise ConfigError(
            path,
            [
                ConfigIssue(
                    "",
                    f"expected a mapping of top-level keys, got {describe(raw)}",
                    "see include/production_configs/README.md for the format",
                )
            ],
        )
    legacy = [key for key in LEGACY_KEYS if key in raw]
    if legacy:
        raise ConfigError(
            path,
            [
                ConfigIssue(
                    "",
                    "pre-2022 lstmcpipe config format (keys "
                    + ", ".join(legacy)
                    + ") is not supported",
                    "convert it: regenerate with 'lstflow generate-config', or list the stages in "
                    "'stages_to_run' and give each stage's paths under 'stages: {stage: "
                    "[{input: ..., output: ...}]}'",
                )
            ],
        )
    check = _Checker()
    top: dict[str, Any] = {}
    ignored = tuple(IGNORED_KEYS)
    check.mapping(raw, TOP_LEVEL, "", top, also_allowed=ignored)
    for key, why in IGNORED_KEYS.items():
        if key in raw:
            check.warn(key, f"ignored: {why}", "delete it")

    workflow_kind = top.get("workflow_kind")
    if isinstance(workflow_kind, str) and workflow_kind not in WORKFLOW_KINDS:
        check.error(
            "workflow_kind",
            f"unknown workflow kind '{workflow_kind}'",
            did_you_mean(workflow_kind, WORKFLOW_KINDS, "allowed kinds"),
        )
    prod_id = top.get("prod_id")
    if isinstance(prod_id, str) and not PROD_ID_PATTERN.match(prod_id):
        check.error(
            "prod_id",
            f"'{prod_id}' may hold only letters, digits, '_', '.' and '-'",
            "rename it: it names the DAG and the log directories",
        )
    if isinstance(prod_id, str) and len(prod_id) > MAX_PROD_ID_LENGTH:
        check.error(
            "prod_id",
            f"has {len(prod_id)} characters, more than the {MAX_PROD_ID_LENGTH} a DAG id allows",
            "shorten it: the DAG id is 'mc_' + the prod_id, at most 250 characters",
        )
    if "prod_id" in raw and top.get("prod_id") is None:
        check.error("prod_id", "is empty", "write a production name, e.g. 20250101_v0.12.3_allsky")
    _check_noise_tune(check, top)
    plot_options = top.get("slurm_config.plot_rf_feat")
    if isinstance(plot_options, dict):
        top["slurm_config.plot_rf_feat"] = check.option_mapping(
            plot_options, "slurm_config.plot_rf_feat"
        )
    return check, top, _stages_to_run(check, top.get("stages_to_run"))


def _check_noise_tune(check: _Checker, top: dict[str, Any]) -> None:
    data, mc = "dl1_noise_tune_data_run", "dl1_noise_tune_mc_run"
    for present, missing in ((data, mc), (mc, data)):
        if present in top and missing not in top:
            check.error(missing, f"missing while '{present}' is set", "set both keys or neither")


def _stages_to_run(check: _Checker, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    if not value:
        check.error(
            "stages_to_run", "is empty", "list the stages to run, e.g. [r0_to_dl1, merge_dl1]"
        )
    names: list[str] = []
    for index, name in enumerate(value):
        if not isinstance(name, str) or name not in STAGE_ORDER:
            check.error(
                f"stages_to_run[{index}]",
                f"unknown stage '{name}'" if isinstance(name, str) else f"got {describe(name)}",
                did_you_mean(str(name), STAGE_ORDER, "known stages"),
            )
        elif name in names:
            check.warn(f"stages_to_run[{index}]", f"stage '{name}' is listed twice", "delete one")
        else:
            names.append(name)
    if "r0_to_dl1" in names and "dl1ab" in names:
        check.error(
            "stages_to_run",
            "'r0_to_dl1' and 'dl1ab' cannot run in the same production",
            "run dl1ab in a second production that reads this one's DL1",
        )
    return tuple(stage for stage in STAGE_ORDER if stage in names)


def _stages(
    check: _Checker, value: object, stages_to_run: tuple[str, ...]
) -> dict[str, tuple[StageEntry, ...]]:
    return {
        name: tuple(
            entry
            for index, raw_entry in enumerate(entries)
            if (entry := _entry(check, name, index, raw_entry)) is not None
        )
        for name, entries in _stage_lists(check, value, stages_to_run).items()
    }


def _stage_lists(
    check: _Checker, value: object, stages_to_run: tuple[str, ...]
) -> dict[str, list[Any]]:
    """The entry list of each known stage, in ``STAGE_ORDER``, its entries not yet checked."""
    if not isinstance(value, dict):
        return {}
    _check_stage_names(check, value, stages_to_run)
    stages: dict[str, list[Any]] = {}
    for name in STAGE_ORDER:
        if name not in value:
            continue
        entries = value[name]
        path = f"stages.{name}"
        if isinstance(entries, dict):
            check.error(
                path,
                "expected a list of entries, got a mapping",
                "start each entry with '- ' (a stage is a list, even with one entry)",
            )
            continue
        if not isinstance(entries, list):
            check.error(
                path, f"expected a list of entries, got {describe(entries)}", "write [] for none"
            )
            continue
        if name not in stages_to_run:
            check.warn(
                path, "defined but not in stages_to_run: it will not run", "add it or delete it"
            )
        elif not entries:
            check.warn(path, "has no entries: nothing will run", None)
        stages[name] = entries
    return stages


def _check_stage_names(
    check: _Checker, value: dict[Any, Any], stages_to_run: tuple[str, ...]
) -> None:
    """Unknown stages, and stages listed in stages_to_run that ``stages`` does not define."""
    for name in value:
        if name not in STAGE_ORDER:
            check.error(
                "stages",
                f"unknown stage '{name}'",
                did_you_mean(str(name), STAGE_ORDER, "known stages"),
            )
    for name in stages_to_run:
        if name not in value:
            check.error(
                "stages",
                f"missing stage '{name}', which stages_to_run lists",
                f"add its entries under 'stages.{name}' or remove it from stages_to_run",
            )


def _entry(check: _Checker, stage: str, index: int, raw: object) -> StageEntry | None:
    path = f"stages.{stage}[{index}]"
    errors_before = len(check.errors)
    values: dict[str, Any] = {}
    if not check.mapping(raw, ENTRY_SPECS[stage], path, values, also_allowed=SLURM_KEYS):
        return None
    assert isinstance(raw, dict)
    legacy, extra = check.slurm_options(raw, stage, index, path)
    if stage == "train_test_split":
        _reconcile_test_size(check, values, index, path)
    if len(check.errors) > errors_before:
        return None
    cls = ENTRY_TYPES[stage]
    fields = {name: values[key] for name, key in cls.YAML_KEYS if values.get(key) is not None}
    return cls(index=index, legacy_slurm_options=legacy, extra_slurm_options=extra, **fields)


def _reconcile_test_size(check: _Checker, values: dict[str, Any], index: int, path: str) -> None:
    """lstmcpipe's generator writes ``options: {test_size: x}`` but only reads ``output.ratio``."""
    test_size = values.pop("options.test_size", None)
    ratio = values.get("output.ratio")
    if test_size is None or test_size is _INVALID or ratio is _INVALID:
        return
    if ratio is None:
        values["output.ratio"] = test_size
        if test_size != DEFAULT_TEST_RATIO:
            check.warn_entry(
                "train_test_split",
                index,
                f"lstmcpipe ignored options.test_size and split 50/50; lstflow uses {test_size}",
                "write it as output.ratio",
            )
    elif ratio != test_size:
        check.error(
            f"{path}.options.test_size",
            f"{test_size} disagrees with output.ratio {ratio}",
            "keep only output.ratio, the test fraction",
        )
