"""The nightly DAG: it parses, its timetable maps nights to runs, its params and conf are
validated, its steps plan the right arrays, and its status view reads the latest attempts."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

CHECKOUT = Path(__file__).resolve().parents[3]
os.environ.setdefault("AIRFLOW_HOME", str(CHECKOUT / ".lstflow" / "airflow-unit"))

from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.sdk import DAG  # noqa: E402
from airflow.sdk.definitions.deadline import DeadlineReference  # noqa: E402
from airflow.sdk.exceptions import AirflowSkipException  # noqa: E402
from airflow.serialization.serialized_objects import DagSerialization  # noqa: E402
from airflow.timetables.base import TimeRestriction  # noqa: E402

from lstflow.cli import main as lstflow_main  # noqa: E402
from lstflow.nightly import night_alert, night_dag  # noqa: E402
from lstflow.nightly.night_status import (  # noqa: E402
    ElementRecord,
    latest_states,
    night_status,
    status_files,
)
from lstflow.nightly.step_operator import (  # noqa: E402
    CALIBRATION_STEPS,
    NIGHT_STEPS,
    RUN_STEPS,
    SUBRUN_STEPS,
    CalibrationAction,
    NightRequest,
    NightStepOperator,
    calibration_action,
)
from lstflow.nightly.timetable import NightTimetable  # noqa: E402
from lstflow.onsite.settings import VERSION_KEYS  # noqa: E402
from lstflow_dev.local_onsite_files import LocalOnsiteFiles  # noqa: E402

pytestmark = pytest.mark.unit

UTC = dt.UTC
NIGHT = dt.datetime(2020, 1, 17, tzinfo=UTC)


@pytest.fixture(scope="module")
def dag() -> DAG:
    bag = DagBag(dag_folder=str(CHECKOUT / "dags" / "lstflow_nightly.py"))
    assert bag.import_errors == {}
    return bag.dags[night_dag.DAG_ID]  # get_dag() would consult the metadata DB


def _context(night: dt.datetime | None, **params: Any) -> dict[str, Any]:
    """What a task's context gives the planner: the DAG run and the resolved params."""
    resolved = {"night": None, "simulate": False, **dict.fromkeys(VERSION_KEYS), **params}
    return {
        "dag_run": SimpleNamespace(run_id="manual__test", logical_date=night),
        "params": resolved,
    }


# ---- DAG shape -----------------------------------------------------------------------------


def test_dag_schedule_throttle_and_catchup(dag: DAG) -> None:
    assert isinstance(dag.timetable, NightTimetable)
    assert dag.catchup is False
    assert dag.max_active_runs == 2


def test_nights_are_scheduled_triggered_or_backfilled(dag: DAG) -> None:
    """Unlike a production's: every run type, and a periodic timetable (the trigger form's
    Backfill choice needs both)."""
    assert dag.allowed_run_types is None
    assert dag.timetable.periodic


def test_tasks_and_dependencies(dag: DAG) -> None:
    run_tasks = {f"{night_dag.RUN_GROUP}.{step}" for step in RUN_STEPS}
    assert set(dag.task_dict) == {"plan_night", "night_status", *NIGHT_STEPS, *run_tasks}

    def downstream(task_id: str) -> set[str]:
        return set(dag.get_task(task_id).downstream_task_ids)

    assert downstream("plan_night") >= {"gain_selection"}
    assert downstream("gain_selection") == {"drs4_baseline"}
    assert downstream("drs4_baseline") == {"charge_calibration"}
    assert downstream("charge_calibration") == {"run.r0_to_dl1"}
    assert downstream("run.r0_to_dl1") == {
        "run.catB_calibration",
        "run.tailcut_finder",
        "run.merge_muons",
    }
    assert downstream("run.catB_calibration") == {"run.dl1ab"}
    assert downstream("run.tailcut_finder") == {"run.dl1ab"}
    assert downstream("run.dl1ab") == {"run.merge_dl1", "run.datacheck_subrun"}
    assert downstream("run.merge_dl1") == {"run.dl1_to_dl2"}
    assert downstream("run.datacheck_subrun") == {"run.datacheck_run"}
    leaves = {"run.dl1_to_dl2", "run.datacheck_run", "run.merge_muons"}
    for leaf in leaves:
        assert downstream(leaf) == {"longterm_datacheck", "night_status"}
    assert downstream("longterm_datacheck") == {"cherenkov_transparency"}
    assert downstream("cherenkov_transparency") == {"provenance_merge"}
    assert downstream("provenance_merge") == {"night_close"}
    # a skipped step (input state, version switch, reused output) never blocks the next ones
    steps = [task for task in dag.tasks if isinstance(task, NightStepOperator)]
    assert {task.trigger_rule for task in steps} == {"none_failed"}
    status = dag.get_task("night_status")
    assert status.is_teardown  # never decides the run's state
    assert set(status.upstream_task_ids) == {"night_close", "plan_night", *leaves}


def test_every_run_step_is_mapped_per_run_not_per_subrun(dag: DAG) -> None:
    group = dag.task_group_dict[night_dag.RUN_GROUP]
    assert type(group).__name__ == "MappedTaskGroup"
    for step in RUN_STEPS:
        task = dag.get_task(f"{night_dag.RUN_GROUP}.{step}")
        assert isinstance(task, NightStepOperator)
        assert task.step == step
    for step in NIGHT_STEPS:
        assert dag.get_task(step).run_id is None


# ---- timetable -----------------------------------------------------------------------------


def test_dl2_step_reads_the_models_assets_of_the_mc_production_grid(dag: DAG) -> None:
    (dl2,) = [task for task in dag.tasks if task.task_id.endswith(".dl1_to_dl2")]
    uris = [asset.uri for asset in dl2.inlets]
    assert len(uris) == 10
    assert "lstflow://models/20240918_v0.10.12_allsky_nsb_tuning_0.38" in uris


def test_night_runs_the_next_morning_with_the_night_as_logical_date() -> None:
    info = NightTimetable().next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(NIGHT, None, catchup=True),
    )
    assert info is not None
    assert info.logical_date == NIGHT
    assert info.data_interval.end == NIGHT + dt.timedelta(days=1)
    assert info.run_after == dt.datetime(2020, 1, 18, 7, 0, tzinfo=UTC)


def test_backfill_bounds_include_both_end_nights(dag: DAG) -> None:
    """``backfill create --from-date D1 --to-date D3`` passes midnight bounds; the serialized
    DAG (what the scheduler uses) must give nights D1, D2 and D3."""
    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    infos = list(scheduler_dag.iter_dagrun_infos_between(NIGHT, NIGHT + dt.timedelta(days=2)))
    assert [info.logical_date.date() for info in infos] == [
        dt.date(2020, 1, 17),
        dt.date(2020, 1, 18),
        dt.date(2020, 1, 19),
    ]
    assert [info.run_after.hour for info in infos] == [7, 7, 7]


def test_without_catchup_the_first_run_is_the_newest_finished_night() -> None:
    timetable = NightTimetable()
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(NIGHT, None, catchup=False),
    )
    assert info is not None
    now = dt.datetime.now(UTC)
    assert info.run_after <= now < info.run_after + dt.timedelta(days=1)


def test_following_runs_are_consecutive_nights() -> None:
    timetable = NightTimetable(dt.time(8, 30))
    first = timetable.night_info(NIGHT)
    second = timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval,
        restriction=TimeRestriction(NIGHT, None, catchup=True),
    )
    assert second is not None
    assert second.logical_date == NIGHT + dt.timedelta(days=1)
    assert second.run_after == dt.datetime(2020, 1, 19, 8, 30, tzinfo=UTC)


def test_manual_run_processes_the_night_of_its_logical_date() -> None:
    interval = NightTimetable().infer_manual_data_interval(
        run_after=dt.datetime(2020, 1, 17, 23, 59, tzinfo=UTC)
    )
    assert (interval.start, interval.end) == (NIGHT, NIGHT + dt.timedelta(days=1))


def test_timetable_round_trips() -> None:
    timetable = NightTimetable(dt.time(6, 45))
    assert NightTimetable.deserialize(timetable.serialize()) == timetable


# ---- params and conf -------------------------------------------------------------------------


def test_params_are_the_night_simulate_and_the_version_keys(dag: DAG) -> None:
    assert set(dag.params) == {"night", "simulate", *VERSION_KEYS}
    assert dag.params["simulate"] is False
    assert dag.params["night"] is None
    assert all(dag.params[key] is None for key in VERSION_KEYS)


def test_the_night_is_a_date_picker_that_warns_about_unpausing(dag: DAG) -> None:
    """The form shows a date-only picker (format 'date'), not a date-time one."""
    night = dag.params.get_param("night")
    assert night.schema["format"] == "date"
    assert night.schema["type"] == ["null", "string"]
    assert "untick 'Unpause on trigger'" in (night.description or "")


def test_the_night_param_chooses_the_night_over_the_logical_date() -> None:
    def with_night(night: str) -> dict[str, Any]:
        context = _context(NIGHT)
        return {**context, "params": {**context["params"], "night": night}}

    assert NightRequest.from_context(with_night("2020-01-18")).night == dt.date(2020, 1, 18)
    assert NightRequest.from_context(_context(NIGHT)).night == NIGHT.date()
    with pytest.raises(ValueError, match=r"night='2020-13-45' is not a date\. Fix: YYYY-MM-DD"):
        NightRequest.from_context(with_night("2020-13-45"))


@pytest.mark.parametrize(
    ("conf", "key"),
    [
        ({"prod_id": "v0.13 /tmp"}, "prod_id"),
        ({"prod_id": "v0.12.3\n"}, "prod_id"),
        ({"environment": "bash -c 'id > /tmp/x'"}, "environment"),
        ({"dl1a_config": "/etc/shadow"}, "dl1a_config"),
        ({"rf_models": "/"}, "rf_models"),
        ({"simulate": "yes"}, "simulate"),
        ({"store_image_dl1ab": "true"}, "store_image_dl1ab"),
    ],
)
def test_invalid_conf_values_are_rejected(dag: DAG, conf: dict[str, Any], key: str) -> None:
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    params = ParamsDict(dict(dag.params.items()))
    with pytest.raises(ParamValidationError, match=f"Invalid input for param {key}"):
        params.update(conf)


def test_valid_conf_overrides_params(dag: DAG) -> None:
    from airflow.sdk.definitions.param import ParamsDict

    params = ParamsDict(dict(dag.params.items()))
    params.update({"simulate": True, "prod_id": "v0.13.0", "store_image_dl1ab": True})
    params.update({"environment": "none", "dl2_config": "standard"})
    assert params.validate()["prod_id"] == "v0.13.0"


def test_unknown_conf_key_names_the_allowed_keys() -> None:
    with pytest.raises(ValueError, match=r"unknown key 'prodid'\. Fix: use only \["):
        night_dag._check_conf_keys({"prodid": "v1"}, {"simulate", *VERSION_KEYS})


def test_run_without_logical_date_explains_the_fix() -> None:
    with pytest.raises(ValueError, match="--logical-date 2020-01-17"):
        NightRequest.from_context(_context(None))


# ---- planning of the steps ------------------------------------------------------------------


def test_subrun_step_is_one_array_element_per_subrun(onsite: Path) -> None:
    operator = NightStepOperator(task_id="r0", step="r0_to_dl1", run_id=1807)
    context = _context(NIGHT, simulate=True, prod_id="v0.13.0")
    spec = operator.build_array_spec(context)
    assert spec.name == "lst1_20200117_v0.13.0_r0_to_dl1_01807"
    assert [item.key for item in spec.items] == [f"r0_to_dl1.01807.000{s}" for s in range(3)]
    assert spec.workdir == str(onsite / "running_analysis" / "20200117" / "v0.13.0")
    first = spec.items[0].argv
    assert first[:5] == (
        "/envs/lstflow/bin/python",
        "-m",
        "lstflow.jobs.simulate",
        "--key",
        "r0_to_dl1.01807.0000",
    )
    assert "lstchain_data_r0_to_dl1" in first
    # the same request plans the same spec: the operator's stored plan re-attaches on retry
    assert operator.build_array_spec(context).fingerprint() == spec.fingerprint()


def test_version_override_changes_every_output_directory(onsite: Path) -> None:
    def outputs(prod_id: str) -> set[str]:
        context = _context(NIGHT, simulate=True, prod_id=prod_id)
        tasks = NightRequest.from_context(context).tasks(LocalOnsiteFiles())
        spec = tasks.array_spec("dl1ab", RUN_STEPS["dl1ab"](tasks, 1808), 1808)
        return {output for item in spec.items for output in item.outputs}

    old, new = outputs("v0.12.3"), outputs("v0.13.0")
    assert old and new and old.isdisjoint(new)
    assert all("/v0.13.0/" in path for path in new)


def test_unknown_step_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown nightly step 'r0_to_dl2'"):
        NightStepOperator(task_id="x", step="r0_to_dl2")


def test_simulated_night_close_writes_its_own_marker(onsite: Path) -> None:
    tasks = NightRequest.from_context(_context(NIGHT, simulate=True)).tasks(LocalOnsiteFiles())
    (close,) = NIGHT_STEPS["night_close"](tasks, 0)
    assert close.argv[:3] == ("/envs/lstflow/bin/python", "-m", "lstflow.jobs.night_close")
    assert "--require" not in close.argv
    assert close.outputs == (str(tasks.paths.simulated_night_closed_marker),)
    assert tasks.paths.simulated_night_closed_marker.name == "NightFinished.simulate.txt"


# ---- status view ------------------------------------------------------------------------------


def test_latest_attempt_of_each_element_wins() -> None:
    states = {
        ("88", 0): ElementRecord("COMPLETED"),
        ("88", 1): ElementRecord("FAILED"),
        ("88", 2): ElementRecord("COMPLETED"),
        ("91", 1): ElementRecord("COMPLETED"),
        ("92", 0): ElementRecord("FAILED"),  # another run's array
    }
    assert latest_states(["88", "91"], states) == ["COMPLETED"] * 3
    assert latest_states(["88"], states) == ["COMPLETED", "FAILED", "COMPLETED"]


def test_status_table_and_cli(onsite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tasks = NightRequest.from_context(_context(NIGHT, simulate=True)).tasks(LocalOnsiteFiles())
    step_jobs = {
        ("charge_calibration", None): ["87"],
        ("r0_to_dl1", 1807): ["88", "91"],
        ("r0_to_dl1", 1808): ["92"],
        ("night_close", None): ["121"],
    }
    ok = "0:0"
    states = {
        ("87", None): ElementRecord("COMPLETED", ok, 60),
        ("88", 0): ElementRecord("COMPLETED", ok, 100),
        ("88", 1): ElementRecord("FAILED", "1:0", 5),
        ("88", 2): ElementRecord("COMPLETED", ok, 100),
        ("91", 1): ElementRecord("COMPLETED", ok, 3700),
        ("92", 0): ElementRecord("COMPLETED", ok, 10),
        ("92", 1): ElementRecord("RUNNING", ok, 1),
        ("121", None): ElementRecord("COMPLETED", ok, 1),
    }
    document, text = night_status(
        tasks,
        step_jobs,
        states,
        calibration_steps=CALIBRATION_STEPS,
        subrun_steps=SUBRUN_STEPS,
        run_steps=tuple(RUN_STEPS),
        night_steps=tuple(NIGHT_STEPS),
    )
    rows = {row["run"]: row for row in document["runs"]}
    assert (rows[1806]["type"], rows[1806]["tries"], rows[1806]["job_id"]) == ("PEDCALIB", 1, "87")
    assert (rows[1807]["tries"], rows[1807]["job_id"], rows[1807]["state"]) == (
        2,
        "91",
        "COMPLETED",
    )
    assert (rows[1808]["tries"], rows[1808]["state"]) == (1, "RUNNING")
    assert rows[1807]["steps"]["dl1ab"] == {"job_ids": [], "state": "NOT_SUBMITTED"}
    assert document["night_steps"]["night_close"] == {"job_ids": ["121"], "state": "COMPLETED"}
    assert document["simulate"] is True
    lines = text.splitlines()
    assert lines[0] == (
        "Night 2020-01-17  prod_id v0.12.3  SIMULATE (commands printed, no outputs; "
        "% = completed jobs)"
    )
    assert lines[1].split() == [
        "Seq", "Parent", "Type", "Run", "Subruns", "Source", "Action", "Tries", "JobID", "State",
        "CPU_time", "Exit", "DL1%", "MUONS%", "CAT-B", "DL1AB%", "DATACHECK%", "DL2%",
    ]  # fmt: skip
    assert lines[2].split() == [
        "1", "-", "PEDCALIB", "1806", "1", "-", "Closed", "1", "87", "COMPLETED", "00:01:00",
        "0:0", "-", "-", "-", "-", "-", "-",
    ]  # fmt: skip
    # The latest attempt of every subrun completed: 100 % (completed jobs), never 0 beside
    # COMPLETED; CPU time sums the latest attempts (100 + 3700 + 100 s).
    assert lines[3].split() == [
        "2", "1", "DATA", "1807", "3", "Crab", "Closed", "2", "91", "COMPLETED", "01:05:00",
        "0:0", "100", "100", "NOT_SUBMITTED", "0", "0", "0",
    ]  # fmt: skip
    assert lines[4].split()[9:12] == ["RUNNING", "00:00:11", "0:0"]

    argv = ["night", "status", "--night", "2020-01-17"]
    assert lstflow_main(argv) == 1
    assert "no status recorded for night 2020-01-17 (prod_id v0.12.3)" in capsys.readouterr().out
    json_file, text_file = status_files(tasks.paths)
    json_file.parent.mkdir(parents=True, exist_ok=True)
    json_file.write_text(json.dumps(document))
    text_file.write_text(text)
    assert lstflow_main(argv) == 0
    assert capsys.readouterr().out == text
    assert lstflow_main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == document["runs"]


def test_run_groups_are_labelled_by_run_number_not_map_index(dag: DAG) -> None:
    per_run = [task for task in dag.tasks if task.task_id.startswith(f"{night_dag.RUN_GROUP}.")]
    assert per_run
    assert {task.map_index_template for task in per_run} == {"run {{ task.run_id }}"}
    assert dag.get_task("drs4_baseline").map_index_template is None


# ---- skipped steps, the night-not-closed alert, the simulate note -------------------------------


def test_a_step_the_input_state_does_not_need_is_skipped_with_its_reason(onsite: Path) -> None:
    context = _context(NIGHT, simulate=True, input_state="gain_selected")
    operator = NightStepOperator(task_id="gain_selection", step="gain_selection")
    spec = operator.build_array_spec(context)
    assert spec.items == ()
    with pytest.raises(AirflowSkipException, match="input_state gain_selected: the R0 files in"):
        operator.spec_ready(context, spec)  # what execute does first with a fresh or stored spec


def test_deadline_alert_mails_the_configured_recipients_through_smtp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert night_alert.night_not_closed_alert() is None  # nobody to tell: no alert
    monkeypatch.setenv("AIRFLOW__LSTFLOW__NIGHTLY_ALERT_TO", "osa@lst.example, shifter@lst.example")
    monkeypatch.setenv("AIRFLOW__LSTFLOW__NIGHTLY_CLOSE_DEADLINE", "120")
    alert = night_alert.night_not_closed_alert()
    assert alert is not None
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert alert.interval == dt.timedelta(seconds=120)
    assert alert.callback.path == "airflow.providers.smtp.notifications.smtp.SmtpNotifier"
    assert alert.callback.kwargs["to"] == ["osa@lst.example", "shifter@lst.example"]
    assert alert.callback.kwargs["smtp_conn_id"] == "smtp_default"


# ---- calibration ownership ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("night", "to_build", "owner_active", "simulate", "action"),
    [
        (dt.date(2020, 1, 17), True, True, False, CalibrationAction.BUILD),  # the owner
        (dt.date(2020, 1, 18), True, True, False, CalibrationAction.WAIT),
        (dt.date(2020, 1, 18), True, True, True, CalibrationAction.USE),
        (dt.date(2020, 1, 18), True, False, False, CalibrationAction.BUILD),  # owner not run
        (dt.date(2020, 1, 18), False, True, False, CalibrationAction.BUILD),  # file exists
    ],
)
def test_only_the_owning_night_builds_a_shared_calibration_run(
    night: dt.date, to_build: bool, owner_active: bool, simulate: bool, action: CalibrationAction
) -> None:
    owner = dt.date(2020, 1, 17)
    assert (
        calibration_action(
            night, owner, to_build=to_build, owner_active=owner_active, simulate=simulate
        )
        is action
    )
