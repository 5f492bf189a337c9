"""The installed provider, plugin and console script, as Airflow itself sees them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

BIN = Path(sys.executable).parent
CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow-home")
    dags = str(CHECKOUT / "dags")
    subprocess.run(
        [
            str(BIN / "lstflow"),
            "init",
            "--no-db",
            "--airflow-home",
            str(home),
            "--dags-folder",
            dags,
        ],
        check=True,
        capture_output=True,
    )
    return {**os.environ, "AIRFLOW_HOME": str(home)}


def airflow_json(env: dict[str, str], *args: str) -> list[dict[str, str]]:
    out = subprocess.run(
        [str(BIN / "airflow"), *args, "-o", "json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: list[dict[str, str]] = json.loads(out[out.index("[") :])
    return result


def test_init_renders_the_given_dags_folder_and_airflow_home_defaults(
    rendered_home: dict[str, str],
) -> None:
    home = rendered_home["AIRFLOW_HOME"]
    cfg = (Path(home) / "airflow.cfg").read_text()
    assert f"dags_folder = {CHECKOUT}/dags" in cfg
    assert f"production_configs = {home}/production_configs" in cfg
    assert f"log_root = {home}/prod_logs" in cfg
    assert "plugins_folder" not in cfg  # the plugin comes from its entry point
    assert "load_examples = False" in cfg
    assert "dags_are_paused_at_creation = False" in cfg


def test_providers_list_shows_lstflow_once(rendered_home: dict[str, str]) -> None:
    providers = airflow_json(rendered_home, "providers", "list")
    assert [p["package_name"] for p in providers].count("lstflow") == 1


def test_plugin_is_loaded_once_from_the_entry_point(rendered_home: dict[str, str]) -> None:
    plugins = [p for p in airflow_json(rendered_home, "plugins") if p["name"] == "lstflow"]
    assert len(plugins) == 1
    assert "EntryPoint" in plugins[0]["source"]


def test_console_script_lists_its_commands() -> None:
    out = subprocess.run(
        [str(BIN / "lstflow"), "--help"], check=True, capture_output=True, text=True
    ).stdout
    assert "init" in out
