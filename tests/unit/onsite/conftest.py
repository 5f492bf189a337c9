"""A synthetic onsite tree (three nights) and its settings, built fresh per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lstflow.onsite.settings import OnsiteSettings, load_settings
from lstflow_dev import synthetic_onsite

SettingsFactory = Callable[..., OnsiteSettings]


@pytest.fixture
def onsite_base(tmp_path: Path) -> Path:
    base = tmp_path / "onsite"
    synthetic_onsite.build_synthetic_tree(base, prod_ids=("v0.12.3", "v0.13.0"))
    return base


@pytest.fixture
def make_settings(tmp_path: Path, onsite_base: Path) -> SettingsFactory:
    def make(
        exclusions: dict[str, list[dict[str, object]]] | None = None, lookback_nights: int = 4
    ) -> OnsiteSettings:
        path = synthetic_onsite.write_settings(tmp_path / "cfg", exclusions, lookback_nights)
        return load_settings(path, base=onsite_base)

    return make


@pytest.fixture
def settings(make_settings: SettingsFactory) -> OnsiteSettings:
    return make_settings()
