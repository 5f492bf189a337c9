"""Night planning: calibration look-back, subruns from R0 files, exclusions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from lstflow.onsite.errors import OnsiteConfigError, PlanningError
from lstflow.onsite.exclusions import load_exclusions
from lstflow.onsite.plan import plan_night
from lstflow.onsite.settings import OnsiteSettings, build_version
from lstflow_dev.local_onsite_files import local_night_files

pytestmark = pytest.mark.unit

SettingsFactory = Callable[..., OnsiteSettings]

NIGHT1, NIGHT2, NIGHT3 = dt.date(2020, 1, 17), dt.date(2020, 1, 18), dt.date(2020, 1, 19)


def test_last_drs4_and_pedcal_of_the_night(settings: OnsiteSettings) -> None:
    plan = plan_night(settings, NIGHT1, build_version(settings), local_night_files())
    assert (plan.drs4.run_id, plan.drs4.night) == (1805, NIGHT1)
    assert (plan.pedcal.run_id, plan.pedcal.night) == (1806, NIGHT1)
    calib = settings.base / "monitoring/PixelCalibration/Cat-A"
    assert plan.calibration_files.drs4_pedestal == (
        calib / "drs4_baseline/20200117/v0.12.3/drs4_pedestal.Run01805.0000.h5"
    )
    assert plan.calibration_files.charge == (
        calib / "calibration/20200117/v0.12.3/calibration_filters_52.Run01806.0000.h5"
    )


def test_night_without_calibration_looks_back(settings: OnsiteSettings) -> None:
    plan = plan_night(settings, NIGHT2, build_version(settings), local_night_files())
    assert (plan.drs4.run_id, plan.drs4.night) == (1805, NIGHT1)
    assert (plan.pedcal.run_id, plan.pedcal.night) == (1806, NIGHT1)
    assert "/calibration/20200117/" in str(plan.calibration_files.charge)


def test_look_back_is_bounded_with_an_explicit_error(make_settings: SettingsFactory) -> None:
    settings = make_settings(lookback_nights=1)
    far = dt.date(2020, 1, 22)
    (settings.base / "monitoring/RunSummary/RunSummary_20200122.ecsv").write_text(
        (settings.base / "monitoring/RunSummary/RunSummary_20200118.ecsv").read_text()
    )
    with pytest.raises(
        PlanningError,
        match=r"no DRS4 run for night 2020-01-22 in "
        r"\['RunSummary_20200122.ecsv', 'RunSummary_20200121.ecsv'\]",
    ):
        plan_night(settings, far, build_version(settings), local_night_files())


def test_excluded_calibration_run_is_never_chosen(make_settings: SettingsFactory) -> None:
    settings = make_settings({"2020-01-17": [{"run": 1806, "reason": "bad flat-field"}]})
    plan = plan_night(settings, NIGHT2, build_version(settings), local_night_files())
    assert plan.pedcal.run_id == 1804


def test_subruns_come_from_existing_r0_files(settings: OnsiteSettings) -> None:
    plan = plan_night(settings, NIGHT2, build_version(settings), local_night_files())
    run = plan.data_run(1809)
    assert run.summary_subruns == 4
    assert run.subruns == (0, 1, 2)
    assert run.source.name == "Crab"


def test_exclusions_drop_runs_and_subruns(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        {
            "2020-01-17": [
                {"run": 1808, "reason": "clouds"},
                {"run": 1807, "subruns": [1], "reason": "truncated R0"},
            ]
        }
    )
    plan = plan_night(settings, NIGHT1, build_version(settings), local_night_files())
    assert [r.run_id for r in plan.data_runs] == [1807]
    assert plan.data_run(1807).subruns == (0, 2)
    assert [(s.run_id, s.reason) for s in plan.skipped] == [(1808, "excluded: clouds")]


@pytest.mark.parametrize(
    ("input_state", "r0_dir"), [("legacy_raw", "R0"), ("gain_selected", "R0G")]
)
def test_runs_without_r0_files_and_error_runs_are_skipped(
    settings: OnsiteSettings, input_state: str, r0_dir: str
) -> None:
    """Raw input plans from the raw R0 files (R0G is written during the run), else from R0G."""
    for r0 in (settings.base / r0_dir / "20200119").glob("LST-1.1.Run01813.*"):
        r0.unlink()
    plan = plan_night(
        settings, NIGHT3, build_version(settings, {"input_state": input_state}), local_night_files()
    )
    assert plan.data_runs == ()
    assert [(s.run_id, s.run_type) for s in plan.skipped] == [(1813, "DATA"), (1814, "ERROR")]
    assert plan.skipped[0].reason.startswith("no R0 files in ")


def test_missing_run_summary_tells_how_to_create_it(settings: OnsiteSettings) -> None:
    with pytest.raises(PlanningError, match="lstchain_create_run_summary -d 20200301"):
        plan_night(settings, dt.date(2020, 3, 1), build_version(settings), local_night_files())


def test_time_calibration_and_systematics_are_looked_up(settings: OnsiteSettings) -> None:
    files = plan_night(
        settings, NIGHT1, build_version(settings), local_night_files()
    ).calibration_files
    calib = settings.base / "monitoring/PixelCalibration/Cat-A"
    assert files.time == (
        calib / "drs4_time_sampling_from_FF/20191218/v0.12.3/time_calibration.Run01625.0000.h5"
    )
    assert files.systematics == (
        calib / "ffactor_systematics/20191218/v0.12.3/ffactor_systematics_20191218.h5"
    )


def test_plan_json_is_plain(settings: OnsiteSettings) -> None:
    data = plan_night(settings, NIGHT1, build_version(settings), local_night_files()).to_json()
    assert data["night"] == "2020-01-17"
    assert data["data_runs"][0]["subruns"] == [0, 1, 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nights:\n  '2020-01-17': [{run: 1807}]\n", r"nights.2020-01-17\[0\].reason"),
        ("nights:\n  'yesterday': []\n", r"nights.yesterday': not a date"),
        ("nights:\n  '2020-01-17': [{run: 1807, subruns: [a]}]\n", r"\[0\].subruns"),
        ("runs: []\n", r"key 'nights'"),
    ],
)
def test_bad_exclusion_file_names_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "exclusions.yaml"
    path.write_text(text)
    with pytest.raises(OnsiteConfigError, match=message):
        load_exclusions(path)
