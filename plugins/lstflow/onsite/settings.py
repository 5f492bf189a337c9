"""The onsite config (default: the package's ``defaults/lst1_onsite.yaml``) and the analysis
version of a DAG run.

Every path of the config is relative to the onsite base directory, given by the environment
variable ``LSTFLOW_ONSITE_BASE``, and must stay inside it. The *analysis version* (prod_id,
lstchain environment, configs, RF models) has defaults in the config and is overridden per DAG
run: a release reprocessing is one backfill with a new ``prod_id``, and because every output
directory contains the prod_id, a new version never touches the previous version's outputs.

Whoever may trigger the nightly DAG is not trusted with commands or paths: a DAG-run conf picks
the environment, the lstchain configs and the RF model set *by name* among the config's
``environments``, ``lstchain_configs`` and ``rf_models`` (reviewed like production configs);
names and prod_ids are matched whole (``fullmatch``), so no trailing newline slips through.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from lstflow.onsite.errors import OnsiteConfigError
from lstflow.package_data import package_file
from lstflow.workitems import Resources

BASE_ENV_VAR = "LSTFLOW_ONSITE_BASE"
# Package data; a site points ``[lstflow] onsite_config`` at its own copy (with its exclusions).
DEFAULT_SETTINGS_PATH = package_file("lstflow.onsite", "defaults", "lst1_onsite.yaml")

#: A directory name: prod_id, calibration version, MC production prefix, choice names.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
#: The config's lists of reviewed choices, and the version key that picks from each.
CHOICE_LISTS = {
    "environment": "environments",
    "dl1a_config": "lstchain_configs",
    "dl2_config": "lstchain_configs",
    "rf_models": "rf_models",
}


@dataclass(frozen=True)
class Layout:
    """Directories of the onsite tree, relative to the base (lstosa's ``[LST1]`` roots).

    ``calibration`` must stay ``monitoring/PixelCalibration/Cat-A``: lstchain's onsite tools
    hard-code it below their ``--base_dir``. ``raw_r0`` holds the 4-stream raw R0 files that gain
    selection reads (lstosa's ``RAW_R0_DIR``); ``r0`` the gain-selected R0G files every later
    step reads (lstosa's ``R0_DIR``).
    """

    r0: str
    raw_r0: str
    run_summary: str
    run_catalog: str
    drive_log: str
    pedestal_ids: str
    tailcuts_finder: str
    calibration: str
    dl1: str
    dl2: str
    datacheck: str
    running: str
    closer: str


@dataclass(frozen=True)
class StepResources:
    """Slurm resources per kind of job (lstosa's ``[SLURM]`` section)."""

    gain_selection: Resources
    calibration: Resources
    subrun: Resources
    run: Resources
    dl2: Resources
    night: Resources


@dataclass(frozen=True)
class AnalysisVersion:
    """What a reprocessing changes: resolved from the config defaults plus the DAG-run conf."""

    prod_id: str
    environment: tuple[tuple[str, ...], ...]
    dl1a_config: str
    dl2_config: str
    rf_models_dir: str
    mc_prod: str
    calibration_version: str
    store_image_dl1ab: bool
    input_state: str
    apply_catB_calibration: bool
    use_ff_heuristic_gain_selection: bool

    def base_paths(self) -> dict[str, Path]:
        """The lstchain configs and RF models, by key: below the onsite base by their names
        (relative, no ``..``); ``plan_night`` checks on the cluster that no symlink leads out."""
        return {
            "dl1a_config": Path(self.dl1a_config),
            "dl2_config": Path(self.dl2_config),
            "rf_models_dir": Path(self.rf_models_dir),
        }


# lstosa's ``--input-state`` values, as its ``processing_plan.py`` defines them.
INPUT_STATES = ("legacy_raw", "gain_selected", "catA_calibrated")
BOOLEAN_VERSION_KEYS = (
    "store_image_dl1ab",
    "apply_catB_calibration",
    "use_ff_heuristic_gain_selection",
)
#: The keys a DAG-run conf may set: names, flags and an input state, never a command or a path.
VERSION_KEYS: tuple[str, ...] = (
    "prod_id",
    "environment",
    "dl1a_config",
    "dl2_config",
    "rf_models",
    "calibration_version",
    "input_state",
    *BOOLEAN_VERSION_KEYS,
)


@dataclass(frozen=True)
class RFModelSet:
    """RF models of one MC production: ``<directory>/<mc_prod>nsb_tuning_X.XX/dec_NNNN``."""

    directory: str
    mc_prod: str


@dataclass(frozen=True)
class Choices:
    """The reviewed options a DAG-run conf picks from by name."""

    environments: Mapping[str, tuple[tuple[str, ...], ...]]
    lstchain_configs: Mapping[str, str]
    rf_models: Mapping[str, RFModelSet]

    def names(self, key: str) -> tuple[str, ...]:
        """The names a version key (``environment``, ``dl1a_config``, ...) may take."""
        return tuple(getattr(self, CHOICE_LISTS[key]))


@dataclass(frozen=True)
class OnsiteSettings:
    """The validated onsite config of one telescope."""

    source: str
    base: Path
    telescope: str
    layout: Layout
    calibration_lookback_nights: int
    calibration_filters: int
    exclusions_file: Path
    resources: StepResources
    choices: Choices
    version_defaults: Mapping[str, Any]

    def path(self, relative: str) -> Path:
        """A config path below the base (validated relative when the config was loaded)."""
        return self.base / relative


def _mapping(data: Any, source: str, key: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise OnsiteConfigError(
            source,
            key,
            f"expected a mapping, got {type(data).__name__}",
            f"write {key} as a YAML mapping of 'name: value'",
        )
    return data


def _string(data: Mapping[str, Any], source: str, key: str, prefix: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise OnsiteConfigError(
            source,
            prefix + key,
            f"expected a non-empty string, got {value!r}",
            f"set {prefix + key} to a string",
        )
    return value


def _relative_path(value: str, source: str, key: str) -> str:
    if Path(value).is_absolute() or ".." in Path(value).parts or "\n" in value:
        raise OnsiteConfigError(
            source,
            key,
            f"{value!r} is not a path inside the base",
            f"give a relative path below ${BASE_ENV_VAR}",
        )
    return value


def _relative_dir(data: Mapping[str, Any], source: str, key: str) -> str:
    return _relative_path(_string(data, source, key, "layout."), source, f"layout.{key}")


def _name(value: Any, source: str, key: str) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise OnsiteConfigError(
            source,
            key,
            f"{value!r} cannot be a directory name",
            "use letters, digits and '._+-' only (e.g. v0.12.3)",
        )
    return value


def _positive_int(data: Mapping[str, Any], source: str, key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise OnsiteConfigError(
            source,
            key,
            f"expected a positive integer, got {value!r}",
            f"set {key} to an integer >= 1",
        )
    return value


def _resources(data: Any, source: str, key: str) -> Resources:
    allowed = {"partition", "mem", "time", "cpus_per_task", "account"}
    block = _mapping(data if data is not None else {}, source, key)
    unknown = set(block) - allowed
    if unknown:
        raise OnsiteConfigError(
            source, f"{key}.{sorted(unknown)[0]}", "unknown resource", f"use only {sorted(allowed)}"
        )
    return Resources(**block)


def _environment(value: Any, source: str, key: str) -> tuple[tuple[str, ...], ...]:
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        return (tuple(shlex.split(value)),)
    if isinstance(value, list) and all(
        isinstance(line, list) and line and all(isinstance(arg, str) for arg in line)
        for line in value
    ):
        return tuple(tuple(line) for line in value)
    raise OnsiteConfigError(
        source,
        key,
        f"cannot use {value!r}",
        "give one shell line ('source /envs/lstchain/bin/activate') or a list of argv lists",
    )


def _named(data: Any, source: str, key: str) -> dict[str, Any]:
    block = _mapping(data if data is not None else {}, source, key)
    for name in block:
        _name(name, source, f"{key}.{name}")
    return block


def _rf_model_set(value: Any, source: str, key: str) -> RFModelSet:
    block = _mapping(value, source, key)
    if set(block) != {"dir", "mc_prod"}:
        raise OnsiteConfigError(
            source, key, f"has keys {sorted(block)}", "give exactly 'dir' and 'mc_prod'"
        )
    directory = _relative_path(_string(block, source, "dir", f"{key}."), source, f"{key}.dir")
    return RFModelSet(directory, _name(block["mc_prod"], source, f"{key}.mc_prod"))


def _choices(data: Mapping[str, Any], source: str) -> Choices:
    environments = _named(data.get("environments"), source, "environments")
    configs = _named(data.get("lstchain_configs"), source, "lstchain_configs")
    rf_models = _named(data.get("rf_models"), source, "rf_models")
    return Choices(
        environments={
            name: _environment(value, source, f"environments.{name}")
            for name, value in environments.items()
        },
        lstchain_configs={
            name: _relative_path(
                _string(configs, source, name, "lstchain_configs."),
                source,
                f"lstchain_configs.{name}",
            )
            for name in configs
        },
        rf_models={
            name: _rf_model_set(value, source, f"rf_models.{name}")
            for name, value in rf_models.items()
        },
    )


def _choice(choices: Choices, merged: Mapping[str, Any], key: str, source: str) -> str:
    value = merged.get(key)
    names = choices.names(key)
    if value not in names:
        listed = f"the config's {CHOICE_LISTS[key]}"
        raise OnsiteConfigError(
            source,
            key,
            f"{value!r} is not one of {listed} {list(names)}",
            f"pick a name from {listed}; new ones are added to the onsite config by review",
        )
    return str(value)


def build_version(
    settings: OnsiteSettings,
    overrides: Mapping[str, Any] | None = None,
    source: str = "DAG-run conf",
) -> AnalysisVersion:
    """The analysis version of a run: config defaults, then ``overrides`` (the DAG-run conf).

    The environment, lstchain configs and RF models are names of the config's reviewed choices;
    their paths are below the onsite base (``plan_night`` refuses a symlink out of it).
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(VERSION_KEYS))
    if unknown:
        raise OnsiteConfigError(
            source, unknown[0], "not an analysis-version key", f"use only {list(VERSION_KEYS)}"
        )
    merged = {**settings.version_defaults, **overrides}

    def origin(key: str) -> str:
        return source if key in overrides else settings.source

    for key in ("prod_id", "calibration_version"):
        _name(_string(merged, origin(key), key), origin(key), key)
    choices = settings.choices
    chosen = {key: _choice(choices, merged, key, origin(key)) for key in CHOICE_LISTS}
    models = choices.rf_models[chosen["rf_models"]]

    def config_path(key: str) -> str:
        relative = choices.lstchain_configs[chosen[key]]
        return str(settings.path(relative))

    booleans = {key: merged.get(key, False) for key in BOOLEAN_VERSION_KEYS}
    for key, flag in booleans.items():
        if not isinstance(flag, bool):
            raise OnsiteConfigError(
                origin(key),
                key,
                f"expected true/false, got {flag!r}",
                f"set {key} to true or false",
            )
    input_state = merged.get("input_state", "legacy_raw")
    if input_state not in INPUT_STATES:
        raise OnsiteConfigError(
            origin("input_state"),
            "input_state",
            f"unknown input state {input_state!r}",
            f"use one of {list(INPUT_STATES)}",
        )
    return AnalysisVersion(
        prod_id=merged["prod_id"],
        environment=choices.environments[chosen["environment"]],
        dl1a_config=config_path("dl1a_config"),
        dl2_config=config_path("dl2_config"),
        rf_models_dir=str(settings.path(models.directory)),
        mc_prod=models.mc_prod,
        calibration_version=merged["calibration_version"],
        input_state=input_state,
        **booleans,
    )


def _base_dir(base: Path | str | None, source: str) -> Path:
    if base is None:
        base = os.environ.get(BASE_ENV_VAR)
    if not base:
        raise OnsiteConfigError(
            source,
            BASE_ENV_VAR,
            "the onsite base directory is not set",
            f"export {BASE_ENV_VAR}=<root of the onsite data tree>",
        )
    return Path(base).absolute()


def load_settings(
    path: Path = DEFAULT_SETTINGS_PATH, base: Path | str | None = None
) -> OnsiteSettings:
    """Load and validate an onsite config; ``base`` defaults to ``$LSTFLOW_ONSITE_BASE``."""
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise OnsiteConfigError(
            source,
            "<file>",
            f"cannot read YAML ({exc})",
            "give the path of a valid onsite YAML file",
        ) from exc
    data = _mapping(raw, source, "<top level>")
    known = {"telescope", "layout", "calibration", "exclusions", "resources", "version"}
    known |= set(CHOICE_LISTS.values())
    unknown = sorted(set(data) - known)
    if unknown:
        raise OnsiteConfigError(source, unknown[0], "unknown key", f"use only {sorted(known)}")
    layout_data = _mapping(data.get("layout"), source, "layout")
    layout_names = [f.name for f in fields(Layout)]
    extra = sorted(set(layout_data) - set(layout_names))
    if extra:
        raise OnsiteConfigError(
            source, f"layout.{extra[0]}", "unknown directory", f"use only {layout_names}"
        )
    calibration = _mapping(data.get("calibration"), source, "calibration")
    resources = _mapping(data.get("resources"), source, "resources")
    version = _mapping(data.get("version"), source, "version")
    settings = OnsiteSettings(
        source=source,
        base=_base_dir(base, source),
        telescope=_string(data, source, "telescope"),
        layout=Layout(**{name: _relative_dir(layout_data, source, name) for name in layout_names}),
        calibration_lookback_nights=_positive_int(calibration, source, "lookback_nights"),
        calibration_filters=_positive_int(calibration, source, "filters"),
        exclusions_file=(path.parent / _string(data, source, "exclusions")).resolve(),
        resources=StepResources(
            **{
                f.name: _resources(resources.get(f.name), source, f"resources.{f.name}")
                for f in fields(StepResources)
            }
        ),
        choices=_choices(data, source),
        version_defaults=version,
    )
    unknown = sorted(set(version) - set(VERSION_KEYS))
    if unknown:
        raise OnsiteConfigError(
            source, f"version.{unknown[0]}", "not an analysis-version key", f"use {VERSION_KEYS}"
        )
    build_version(settings, source=source)  # fail at load time, not in the first DAG run
    return settings


def read_choices(path: Path = DEFAULT_SETTINGS_PATH) -> tuple[Choices, Mapping[str, Any]]:
    """The reviewed choices and version defaults of a config, without its base (parse time:
    the DAG's trigger form lists the names; ``load_settings`` validates the rest at run time)."""
    source = str(path)
    data = _mapping(yaml.safe_load(path.read_text()), source, "<top level>")
    return _choices(data, source), _mapping(data.get("version") or {}, source, "version")


def default_rf_models(path: Path = DEFAULT_SETTINGS_PATH) -> RFModelSet | None:
    """The RF model set the config's version defaults pick, ``None`` if it names none."""
    choices, version = read_choices(path)
    return choices.rf_models.get(str(version.get("rf_models")))
