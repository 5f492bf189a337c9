"""The onsite config and the analysis version: defaults, DAG-run overrides, clear errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from lstflow.onsite.errors import OnsiteConfigError
from lstflow.onsite.plan import plan_night
from lstflow.onsite.settings import (
    BASE_ENV_VAR,
    DEFAULT_SETTINGS_PATH,
    OnsiteSettings,
    build_version,
    load_settings,
)
from lstflow_dev import synthetic_onsite as synthetic
from lstflow_dev.local_onsite_files import local_night_files

pytestmark = pytest.mark.unit


def test_shipped_config_loads_with_base_from_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(BASE_ENV_VAR, str(tmp_path))
    settings = load_settings(DEFAULT_SETTINGS_PATH)
    assert settings.base == tmp_path
    assert settings.path(settings.layout.r0) == tmp_path / "R0G"
    assert settings.exclusions_file == DEFAULT_SETTINGS_PATH.parent / "exclusions.yaml"
    assert settings.resources.dl2.mem == "60G"
    version = build_version(settings)
    assert version.prod_id == "v0.12.3"
    assert version.dl1a_config == str(tmp_path / "cfg/lstchain_standard_config.json")
    assert version.environment == ()


def test_unset_base_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_ENV_VAR, raising=False)
    with pytest.raises(OnsiteConfigError, match=f"export {BASE_ENV_VAR}="):
        load_settings(DEFAULT_SETTINGS_PATH)


def test_dag_run_conf_picks_reviewed_choices_by_name(tmp_path: Path, onsite_base: Path) -> None:
    config = synthetic.write_settings(
        tmp_path / "cfg", environments={"lstchain-0.13": "source envs/lstchain-0.13/activate"}
    )
    settings = load_settings(config, base=onsite_base)
    version = build_version(settings, {"prod_id": "v0.13.0", "environment": "lstchain-0.13"})
    assert version.prod_id == "v0.13.0"
    assert version.environment == (("source", "envs/lstchain-0.13/activate"),)
    assert version.rf_models_dir == str(onsite_base / "models/AllSky")
    assert version.mc_prod == synthetic.MC_PROD
    assert version.calibration_version == "v0.12.3"


@pytest.mark.parametrize(
    ("conf", "key"),
    [
        ({"environment": "bash -c 'id > /tmp/x'"}, "environment"),
        ({"dl1a_config": "/etc/shadow"}, "dl1a_config"),
        ({"dl2_config": "/root/.ssh/id_rsa"}, "dl2_config"),
        ({"rf_models": "/"}, "rf_models"),
    ],
)
def test_conf_commands_and_paths_are_refused(
    settings: OnsiteSettings, conf: dict[str, str], key: str
) -> None:
    with pytest.raises(OnsiteConfigError, match=f"DAG-run conf: key '{key}': .* is not one of"):
        build_version(settings, conf)


@pytest.mark.parametrize("key", ["rf_models_dir", "mc_prod"])
def test_conf_cannot_give_model_paths(settings: OnsiteSettings, key: str) -> None:
    with pytest.raises(OnsiteConfigError, match=f"key '{key}': not an analysis-version key"):
        build_version(settings, {key: "../../etc"})


def test_a_config_symlinked_out_of_the_base_is_refused_when_planning(
    tmp_path: Path, onsite_base: Path
) -> None:
    config = onsite_base / "cfg" / "lstchain_standard_config.json"
    config.unlink()
    secret = tmp_path / "secret.json"
    secret.write_text("{}")
    config.symlink_to(secret)
    settings = load_settings(synthetic.write_settings(tmp_path / "cfg"), base=onsite_base)
    with pytest.raises(OnsiteConfigError, match=r"'dl1a_config': .* outside the onsite base"):
        plan_night(settings, dt.date(2020, 1, 17), build_version(settings), local_night_files())


def test_unknown_conf_key_is_named(settings: OnsiteSettings) -> None:
    with pytest.raises(OnsiteConfigError, match=r"DAG-run conf: key 'prodid'.*use only"):
        build_version(settings, {"prodid": "v2"})


@pytest.mark.parametrize("bad", ["../v1", "v1/x", "", "v 1", "v0.12.3\n", "v1\necho x"])
def test_prod_id_must_be_a_directory_name(settings: OnsiteSettings, bad: str) -> None:
    with pytest.raises(OnsiteConfigError, match="key 'prod_id'"):
        build_version(settings, {"prod_id": bad})


def _write_config(tmp_path: Path, change: dict[str, object]) -> Path:
    config = yaml.safe_load(DEFAULT_SETTINGS_PATH.read_text())
    for dotted, value in change.items():
        *parents, leaf = dotted.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[leaf] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"layout.dl1": "/fefs/DL1"}, r"bad.yaml: key 'layout.dl1': '/fefs/DL1' is not a path"),
        ({"calibration.lookback_nights": 0}, r"key 'lookback_nights': expected a positive integer"),
        (
            {"resources.subrun": {"memory": "2G"}},
            r"key 'resources.subrun.memory': unknown resource",
        ),
        ({"version.store_image_dl1ab": "no"}, r"key 'store_image_dl1ab': expected true/false"),
        ({"layout.dl3": "DL3"}, r"key 'layout.dl3': unknown directory"),
        ({"lstchain_configs.standard": "/etc/shadow"}, r"'/etc/shadow' is not a path inside"),
        (
            {"rf_models.allsky-20240918.dir": "../models"},
            r"key 'rf_models.allsky-20240918.dir': '../models' is not a path inside",
        ),
        (
            {"rf_models.allsky-20240918.mc_prod": "../x_"},
            r"mc_prod': '../x_' cannot be a directory name",
        ),
        ({"version.environment": "lstchain"}, r"key 'environment': 'lstchain' is not one of"),
        ({"version.mc_prod": "x_"}, r"key 'version.mc_prod': not an analysis-version key"),
    ],
)
def test_invalid_config_errors_name_file_and_key(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(OnsiteConfigError, match=message) as info:
        load_settings(_write_config(tmp_path, change), base=tmp_path)
    assert "Fix:" in str(info.value)
