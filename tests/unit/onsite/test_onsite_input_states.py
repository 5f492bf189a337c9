"""Input states (lstosa's ``--input-state``, per its ``processing_plan.py``) and gain selection.

``processing_plan.py`` says ``legacy_raw`` and ``gain_selected`` both need Cat-A calibration;
``extract.py`` builds calibration for ``legacy_raw`` only. lstflow follows ``processing_plan.py``.
"""

from __future__ import annotations

import datetime as dt
import shlex

import pytest

from lstflow.onsite.errors import OnsiteConfigError, PlanningError
from lstflow.onsite.plan import plan_night
from lstflow.onsite.settings import OnsiteSettings, build_version
from lstflow.onsite.tasks import NightTasks
from lstflow.workitems import WorkItem
from lstflow_dev.local_onsite_files import local_night_files

pytestmark = pytest.mark.unit

NIGHT1 = dt.date(2020, 1, 17)


def command_of(item: WorkItem) -> str:
    return shlex.join(item.argv[item.argv.index("--") + 1 :])


def night(settings: OnsiteSettings, **overrides: object) -> NightTasks:
    files = local_night_files()
    return NightTasks(
        settings, plan_night(settings, NIGHT1, build_version(settings, overrides), files), files
    )


def test_legacy_raw_gain_selects_data_subruns_with_four_streams(settings: OnsiteSettings) -> None:
    b = settings.base
    items = {item.key: item for item in night(settings).gain_selection()}
    # every raw subrun of the night: 4 calibration runs (1 subrun each), 1807 (3), 1808 (2)
    assert len(items) == 9
    assert command_of(items["gain_selection.01807.0002"]) == (
        f"lstchain_r0_to_r0g --R0-file={b}/R0/20200117/LST-1.1.Run01807.0002.fits.fz "
        f"--output-dir={b}/R0G/20200117 --log={b}/R0G/log/20200117/r0_to_r0g_01807.0002.log"
    )
    assert items["gain_selection.01807.0002"].outputs == (
        *(f"{b}/R0G/20200117/LST-1.{s}.Run01807.0002.fits.fz" for s in (1, 2, 3, 4)),
        f"{b}/R0G/log/20200117/r0_to_r0g_01807.0002.log",
    )
    assert items["gain_selection.01807.0002"].resources.mem == "200M"


def test_calibration_runs_and_incomplete_subruns_are_copied(settings: OnsiteSettings) -> None:
    b = settings.base
    items = {item.key: item for item in night(settings).gain_selection()}
    raw = f"{b}/R0/20200117"
    assert command_of(items["gain_selection.01808.0001"]) == (
        f"cp -- {raw}/LST-1.1.Run01808.0001.fits.fz {raw}/LST-1.2.Run01808.0001.fits.fz "
        f"{raw}/LST-1.3.Run01808.0001.fits.fz {b}/R0G/20200117/"
    )
    assert command_of(items["gain_selection.01804.0000"]).startswith(
        f"cp -- {raw}/LST-1.1.Run01804.0000.fits.fz "
    )


def test_no_flatfield_heuristic_when_the_version_turns_it_off(settings: OnsiteSettings) -> None:
    tasks = night(settings, use_ff_heuristic_gain_selection=False)
    selected = [i for i in tasks.gain_selection() if "lstchain_r0_to_r0g" in i.argv]
    assert selected and all(i.argv[-1] == "--no-flatfield-heuristic" for i in selected)


def test_gain_selected_input_skips_gain_selection_and_keeps_calibration(
    settings: OnsiteSettings,
) -> None:
    tasks = night(settings, input_state="gain_selected")
    assert tasks.gain_selection() == ()
    assert tasks.skip_reason("gain_selection") == (
        f"input_state gain_selected: the R0 files in {settings.base}/R0G/20200117 are gain-selected"
    )
    assert len(tasks.drs4_baseline()) == len(tasks.charge_calibration()) == 1
    assert "--calibration-file=" in command_of(tasks.r0_to_dl1(1807)[0])


def test_catA_calibrated_input_runs_no_calibration(settings: OnsiteSettings) -> None:
    charge = night(settings).plan.calibration_files.charge
    charge.parent.mkdir(parents=True)
    charge.touch()
    tasks = night(settings, input_state="catA_calibrated")
    assert tasks.gain_selection() == tasks.drs4_baseline() == tasks.charge_calibration() == ()
    reason = "input_state catA_calibrated: the R0 data are Cat-A calibrated already"
    assert tasks.skip_reason("drs4_baseline") == tasks.skip_reason("charge_calibration") == reason
    r0_to_dl1 = command_of(tasks.r0_to_dl1(1807)[0])
    assert "--pedestal-file" not in r0_to_dl1 and "--calibration-file" not in r0_to_dl1
    (catB,) = tasks.catB_calibration(1807)
    assert f"--cat_A_calibration_file={charge}" in catB.argv


def test_catA_calibrated_without_the_cat_A_file_is_a_planning_error(
    settings: OnsiteSettings,
) -> None:
    with pytest.raises(PlanningError, match="input_state catA_calibrated runs no Cat-A"):
        night(settings, input_state="catA_calibrated")


def test_existing_calibration_is_skipped_with_its_reason(settings: OnsiteSettings) -> None:
    drs4 = night(settings).plan.calibration_files.drs4_pedestal
    drs4.parent.mkdir(parents=True)
    drs4.touch()
    assert night(settings).skip_reason("drs4_baseline") == (
        f"{drs4} exists: calibration files are reused, never rewritten"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"input_state": "raw"}, r"key 'input_state': unknown input state 'raw'"),
        ({"apply_catB_calibration": "yes"}, r"key 'apply_catB_calibration': expected true/false"),
    ],
)
def test_bad_input_state_or_switch_names_key_and_fix(
    settings: OnsiteSettings, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(OnsiteConfigError, match=message):
        build_version(settings, overrides)
