"""Work items carry lstosa's exact command lines, one item per subrun for the arrays.

The expected strings are lstosa v0.11.10's command lines (reference lstosa.md §1.4 and §3)
written out by hand, with the two documented differences (``-v``, ``--no-image``).
"""

from __future__ import annotations

import datetime as dt
import shlex

import pytest

from lstflow.onsite.plan import NightPlan, plan_night
from lstflow.onsite.settings import OnsiteSettings, build_version
from lstflow.onsite.tasks import JobMode, NightTasks
from lstflow.workitems import WorkItem
from lstflow_dev.local_onsite_files import local_night_files

pytestmark = pytest.mark.unit

NIGHT2 = dt.date(2020, 1, 18)


def command_of(item: WorkItem) -> str:
    """The lstchain command inside the wrapper (everything after ``--``)."""
    return shlex.join(item.argv[item.argv.index("--") + 1 :])


@pytest.fixture
def plan(settings: OnsiteSettings) -> NightPlan:
    return plan_night(settings, NIGHT2, build_version(settings), local_night_files())


@pytest.fixture
def tasks(settings: OnsiteSettings, plan: NightPlan) -> NightTasks:
    return NightTasks(
        settings, plan, local_night_files(), JobMode(simulate=False, python="/env/bin/python")
    )


def test_calibration_commands(tasks: NightTasks, settings: OnsiteSettings) -> None:
    b = settings.base
    (drs4,), (charge,) = tasks.drs4_baseline(), tasks.charge_calibration()
    assert command_of(drs4) == (
        f"onsite_create_drs4_pedestal_file -r 1805 -v v0.12.3 -b {b} --r0-dir={b}/R0G --no-progress"
    )
    assert command_of(charge) == (
        f"onsite_create_calibration_file -p 1805 -r 1806 -v v0.12.3 -b {b} --r0-dir={b}/R0G "
        "--filters=52"
    )
    assert charge.outputs == (
        f"{b}/monitoring/PixelCalibration/Cat-A/calibration/20200117/v0.12.3/"
        "calibration_filters_52.Run01806.0000.h5",
    )


def test_existing_calibration_is_reused_not_rewritten(tasks: NightTasks) -> None:
    drs4 = tasks.plan.calibration_files.drs4_pedestal
    drs4.parent.mkdir(parents=True)
    drs4.touch()
    assert tasks.drs4_baseline() == ()
    assert len(tasks.charge_calibration()) == 1


def test_r0_to_dl1_one_item_per_existing_subrun(
    tasks: NightTasks, settings: OnsiteSettings
) -> None:
    b = settings.base
    items = tasks.r0_to_dl1(1809)
    assert [i.key for i in items] == [
        "r0_to_dl1.01809.0000",
        "r0_to_dl1.01809.0001",
        "r0_to_dl1.01809.0002",
    ]
    cat_a = f"{b}/monitoring/PixelCalibration/Cat-A"
    assert command_of(items[2]) == (
        f"lstchain_data_r0_to_dl1 --input-file={b}/R0G/20200118/LST-1.1.Run01809.0002.fits.fz "
        f"--output-dir={b}/DL1/20200118/v0.12.3 --config={b}/cfg/lstchain_standard_config.json "
        f"--pointing-file={b}/monitoring/DrivePositioning/DrivePosition_log_20200118.txt "
        f"--run-summary-path={b}/monitoring/RunSummary/RunSummary_20200118.ecsv "
        f"--pedestal-file={cat_a}/drs4_baseline/20200117/v0.12.3/drs4_pedestal.Run01805.0000.h5 "
        f"--calibration-file={cat_a}/calibration/20200117/v0.12.3/"
        "calibration_filters_52.Run01806.0000.h5 "
        f"--time-calibration-file={cat_a}/drs4_time_sampling_from_FF/20191218/v0.12.3/"
        "time_calibration.Run01625.0000.h5 "
        f"--systematic-correction-file={cat_a}/ffactor_systematics/20191218/v0.12.3/"
        "ffactor_systematics_20191218.h5"
    )
    assert items[2].outputs == (
        f"{b}/DL1/20200118/v0.12.3/dl1_LST-1.Run01809.0002.h5",
        f"{b}/DL1/20200118/v0.12.3/muons_LST-1.Run01809.0002.fits",
        f"{b}/DL1/20200118/v0.12.3/interleaved/interleaved_LST-1.Run01809.0002.h5",
    )
    assert items[2].resources.mem == "200M"


def test_pedestal_ids_are_passed_when_the_finder_file_exists(
    settings: OnsiteSettings,
) -> None:
    ids = settings.base / "auxiliary/PedestalFinder/20200118/pedestal_ids_Run01809.0001.h5"
    ids.parent.mkdir(parents=True)
    ids.touch()
    files = local_night_files()
    tasks = NightTasks(
        settings, plan_night(settings, NIGHT2, build_version(settings), files), files
    )
    with_ids = [command_of(i).endswith(f"--pedestal-ids-path={ids}") for i in tasks.r0_to_dl1(1809)]
    assert with_ids == [False, True, False]


def test_run_steps(tasks: NightTasks, settings: OnsiteSettings) -> None:
    b, dl1 = settings.base, f"{settings.base}/DL1/20200118/v0.12.3"
    tailcut = tasks.tailcut(1809)
    assert tailcut.name == "tailcut84"
    finder_dir = f"{b}/auxiliary/TailCuts/20200118/v0.12.3"
    assert command_of(tasks.tailcut_finder(1809)) == (
        f"lstchain_find_tailcuts --input-dir={dl1} --run=1809 --output-dir={finder_dir}"
    )
    dl1ab = tasks.dl1ab(1809, tailcut)
    assert command_of(dl1ab[1]) == (
        f"lstchain_dl1ab --input-file={dl1}/dl1_LST-1.Run01809.0001.h5 "
        f"--output-file={dl1}/tailcut84/dl1_LST-1.Run01809.0001.h5 "
        f"--config={finder_dir}/dl1ab_Run01809.json --no-image "
        f"--catB-calibration-file={b}/monitoring/PixelCalibration/Cat-B/calibration/20200118/"
        "v0.12.3/cat_B_calibration_filters_52.Run01809.h5"
    )
    check = tasks.datacheck_subruns(1809, tailcut)
    assert command_of(check[0]) == (
        f"lstchain_check_dl1 --input-file={dl1}/tailcut84/dl1_LST-1.Run01809.0000.h5 "
        f"--output-dir={dl1}/tailcut84/datacheck --muons-dir={dl1} --omit-pdf --batch"
    )
    assert command_of(tasks.merge_dl1(1809, tailcut)) == (
        f"lstchain_merge_hdf5_files --input-dir={dl1}/tailcut84 "
        f"--output-file={dl1}/tailcut84/dl1_LST-1.Run01809.h5 --no-image --no-progress "
        "--run-number=1809 '--pattern=dl1_LST-1.Run?????.????.h5'"
    )
    assert command_of(tasks.merge_muons(1809)) == (
        f"lstchain_merge_muon_files --input-dir={dl1} --output-file={dl1}/muons/"
        "muons_LST-1.Run01809.fits --run-number=1809 '--pattern=muons_LST-1.Run?????.????.fits'"
    )
    rf = tasks.rf_model(1809, tailcut)
    models = f"{b}/models/AllSky/20240918_v0.10.12_allsky_nsb_tuning_0.22/dec_2276"
    assert command_of(tasks.dl1_to_dl2(1809, tailcut, rf)) == (
        f"lstchain_dl1_to_dl2 --input-file={dl1}/tailcut84/dl1_LST-1.Run01809.h5 "
        f"--output-dir={b}/DL2/20200118/v0.12.3/tailcut84/nsb_tuning_0.22 "
        f"--path-models={models} --config={b}/cfg/lstchain_standard_config.json"
    )
    checks = f"{b}/DL1/datacheck_files/v0.12.3/20200118"
    assert command_of(tasks.datacheck_run(1809, tailcut)) == (
        f"lstchain_check_dl1 '--input-file={dl1}/tailcut84/datacheck/"
        f"datacheck_dl1_LST-1.Run01809.*.h5' --output-dir={checks} --muons-dir={dl1}"
    )


def test_catB_calibration_reads_the_interleaved_files_with_the_night_cat_A_files(
    tasks: NightTasks, settings: OnsiteSettings
) -> None:
    b = settings.base
    (item,) = tasks.catB_calibration(1809)
    cat_a = f"{b}/monitoring/PixelCalibration/Cat-A"
    assert command_of(item) == (
        f"onsite_create_cat_B_calibration_file -r 1809 -b {b} --r0-dir={b}/R0G --filters=52 "
        f"--catA_calibration_run=1806 --interleaved-dir={b}/DL1/20200118/v0.12.3 "
        f"--cat_A_calibration_file={cat_a}/calibration/20200117/v0.12.3/"
        "calibration_filters_52.Run01806.0000.h5 "
        f"--systematics_file={cat_a}/ffactor_systematics/20191218/v0.12.3/"
        "ffactor_systematics_20191218.h5"
    )
    assert item.outputs == (
        f"{b}/monitoring/PixelCalibration/Cat-B/calibration/20200118/v0.12.3/"
        "cat_B_calibration_filters_52.Run01809.h5",
    )


def test_without_catB_calibration_dl1ab_gets_no_catB_file(settings: OnsiteSettings) -> None:
    version = build_version(settings, {"apply_catB_calibration": False})
    files = local_night_files()
    tasks = NightTasks(settings, plan_night(settings, NIGHT2, version, files), files)
    assert tasks.catB_calibration(1809) == ()
    assert tasks.skip_reason("catB_calibration") == (
        "apply_catB_calibration is false: DL1ab runs without Cat-B calibration"
    )
    dl1ab = tasks.dl1ab(1809, tasks.tailcut(1809))
    assert not any("--catB-calibration-file" in command_of(item) for item in dl1ab)


def test_night_steps(tasks: NightTasks, settings: OnsiteSettings) -> None:
    b = settings.base
    checks = f"{b}/DL1/datacheck_files"
    assert command_of(tasks.longterm_datacheck()) == (
        f"lstchain_longterm_dl1_check --input-dir={checks}/v0.12.3/20200118 "
        f"--output-file={checks}/night_wise/v0.12.3/20200118/DL1_datacheck_20200118.h5 "
        f"--muons-dir={b}/DL1/20200118/v0.12.3/muons --batch"
    )
    assert command_of(tasks.cherenkov_transparency()) == (
        "lstchain_cherenkov_transparency "
        f"--update-datacheck-file={checks}/night_wise/v0.12.3/20200118/DL1_datacheck_20200118.h5 "
        f"--input-dir={checks}/v0.12.3/20200118"
    )
    close = tasks.night_close()
    assert close.argv[:3] == ("/env/bin/python", "-m", "lstflow.jobs.night_close")
    assert close.outputs == (f"{b}/OSA/Closer/20200118/v0.12.3/NightFinished.txt",)


def test_real_mode_records_a_provenance_fragment_per_task(tasks: NightTasks) -> None:
    item = tasks.r0_to_dl1(1809)[0]
    prov = tasks.paths.provenance_dir()
    assert item.argv[:8] == (
        "/env/bin/python",
        "-m",
        "lstflow.jobs.provenance",
        "record",
        "--activity",
        "r0_to_dl1.01809.0000",
        "--fragment",
        f"{prov}/r0_to_dl1.01809.0000.json",
    )
    assert f"--output={item.outputs[0]}" in item.argv


def test_simulate_mode_wraps_every_command(settings: OnsiteSettings, plan: NightPlan) -> None:
    tasks = NightTasks(settings, plan, local_night_files(), JobMode(simulate=True))
    item = tasks.r0_to_dl1(1810)[1]
    assert item.argv[:9] == (
        "python",
        "-m",
        "lstflow.jobs.simulate",
        "--key",
        "r0_to_dl1.01810.0001",
        "--fail-once-dir",
        str(tasks.paths.fail_once_dir),
        "--fragment",
        f"{tasks.paths.running_dir}/provenance.simulate/r0_to_dl1.01810.0001.json",
    )
    simulated = item.argv[item.argv.index("--") + 1 :]
    assert simulated[0] == "lstchain_data_r0_to_dl1"
    assert f"--output={item.outputs[0]}" in item.argv[: item.argv.index("--")]


def test_simulate_stands_in_for_a_missing_finder_result(
    settings: OnsiteSettings, plan: NightPlan
) -> None:
    (plan.paths.tailcuts_dir / "dl1ab_Run01810.json").unlink()
    tailcut = NightTasks(settings, plan, local_night_files(), JobMode(simulate=True)).tailcut(1810)
    assert (tailcut.name, tailcut.nsb, tailcut.simulated) == ("tailcut84", 0.0, True)


def test_new_version_writes_only_below_its_own_prod_id(settings: OnsiteSettings) -> None:
    def all_outputs(prod_id: str) -> set[str]:
        files = local_night_files()
        plan = plan_night(settings, NIGHT2, build_version(settings, {"prod_id": prod_id}), files)
        tasks = NightTasks(settings, plan, files)
        outputs: list[str] = []
        for run in plan.data_runs:
            tc = tasks.tailcut(run.run_id)
            items = [
                *tasks.r0_to_dl1(run.run_id),
                *tasks.dl1ab(run.run_id, tc),
                *tasks.datacheck_subruns(run.run_id, tc),
                tasks.tailcut_finder(run.run_id),
                tasks.merge_dl1(run.run_id, tc),
                tasks.merge_muons(run.run_id),
                tasks.dl1_to_dl2(run.run_id, tc, tasks.rf_model(run.run_id, tc)),
                tasks.datacheck_run(run.run_id, tc),
            ]
            outputs += [o for i in items for o in i.outputs]
        night = [tasks.longterm_datacheck(), tasks.provenance_merge(), tasks.night_close()]
        return set(outputs) | {o for i in night for o in i.outputs}

    old, new = all_outputs("v0.12.3"), all_outputs("v0.13.0")
    assert old.isdisjoint(new)
    assert all("/v0.13.0/" in path for path in new)
