"""RF model choice: NSB level by picture threshold, then declination line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstflow.onsite.errors import PlanningError
from lstflow.onsite.rfmodels import choose_nsb_level, choose_rf_model, parse_declination_dir
from lstflow_dev.local_onsite_files import local_night_files

pytestmark = pytest.mark.unit

MC_PROD = "20240918_v0.10.12_allsky_"


@pytest.mark.parametrize(
    ("nsb", "picture", "level"),
    [
        (0.0, 8, 0.0),
        (0.1, 8, 0.07),
        (0.2, 8, 0.22),
        (1.0, 8, 0.22),
        (0.45, 10, 0.5),
        (0.0, 10, 0.38),
        (0.9, 12, 0.81),
        (3.0, 18, 2.34),
    ],
)
def test_nsb_level_among_those_of_the_picture_threshold(
    nsb: float, picture: int, level: float
) -> None:
    assert choose_nsb_level(nsb, picture) == level


def test_unknown_picture_threshold_is_an_error() -> None:
    with pytest.raises(PlanningError, match="picture threshold 9"):
        choose_nsb_level(0.3, 9)


@pytest.mark.parametrize(
    ("name", "dec"),
    [("dec_2276", 22.76), ("dec_min_2924", -29.24), ("dec_931", 9.31), ("nsb_tuning_0.14", None)],
)
def test_declination_dir_names(name: str, dec: float | None) -> None:
    assert parse_declination_dir(name) == dec


@pytest.fixture
def models(tmp_path: Path) -> Path:
    for dec in ("dec_min_2924", "dec_2276", "dec_3000", "dec_4822"):
        (tmp_path / f"{MC_PROD}nsb_tuning_0.14" / dec).mkdir(parents=True)
    return tmp_path


@pytest.mark.parametrize(
    ("dec", "line"),
    [
        (22.01, "dec_2276"),
        (-29.0, "dec_min_2924"),
        (65.0, "dec_4822"),
        # 28.0 is closer to 30.00 but culminates south of the zenith (latitude 28.76) like 22.76
        (28.0, "dec_2276"),
        (31.0, "dec_3000"),
    ],
)
def test_closest_declination_line_on_the_same_side(models: Path, dec: float, line: str) -> None:
    choice = choose_rf_model(local_night_files(), models, MC_PROD, 0.12, 8, dec, 1)
    assert choice.path == models / f"{MC_PROD}nsb_tuning_0.14" / line
    assert choice.nsb_dir == "nsb_tuning_0.14"


def test_missing_models_and_declination_are_explicit(models: Path) -> None:
    with pytest.raises(PlanningError, match=r"nsb_tuning_0\.81\. Fix: install the RF models"):
        choose_rf_model(local_night_files(), models, MC_PROD, 0.9, 12, 22.0, 7)
    with pytest.raises(PlanningError, match="run 7: unknown pointing declination"):
        choose_rf_model(local_night_files(), models, MC_PROD, 0.1, 8, None, 7)
