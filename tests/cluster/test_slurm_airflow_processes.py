"""``SlurmArrayOperator`` under real Airflow processes (scheduler, dag-processor, triggerer,
api-server) against the real cluster: what ``dag.test()`` cannot show.

- kill -9 of the triggerer while tasks are deferred: a restarted triggerer resumes the trigger
  from its serialized kwargs, the task completes, and no submission is ever sbatch'ed twice;
- clearing a deferred task: the triggerer calls the trigger's ``on_kill``, which scancels;
- 20 deferred tasks in one triggerer: one squeue per poll cycle, for all of them.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.airflow_stack import AirflowStack, all_in, wait_until
from support.slurm_counts import count_jobs_by_tag

from lstflow.slurm.cluster_files import ClusterFiles
from lstflow.slurm.hook import SlurmHook
from lstflow.slurm.policy import PollSettings
from lstflow.slurm.reports import SlurmReport
from lstflow.slurm.states import SlurmState
from lstflow.workitems import ArraySpec, Resources, WorkItem

pytestmark = pytest.mark.cluster

CHECKOUT = Path(__file__).resolve().parents[2]
FAST_POLLING = PollSettings(poll_interval=2.0, max_poll_interval=5.0, sacct_grace_period=30.0)
#: Held jobs (``--begin`` far ahead) take no cores on the shared 2-core cluster until released.
HELD = Resources(mem="50M", time="5", extra=(("begin", "now+1hour"),))
CYCLE_LINE = re.compile(r"Slurm poll cycle \d+ over \S+: (\d+) trigger\(s\)")

DAG_FILE = """\
import json
from datetime import datetime

from airflow.sdk import DAG

from lstflow.slurm.operator import SlurmArrayOperator
from lstflow.slurm.policy import PollSettings
from lstflow.slurm.sensor import SlurmJobSensor
from lstflow.workitems import ArraySpec

CONFIG = json.loads({config!r})
POLL = PollSettings.from_json(CONFIG["poll"])
with DAG(CONFIG["dag_id"], schedule=None, start_date=datetime(2026, 1, 1), max_active_tasks=64):
    for task_id, spec in CONFIG["tasks"].items():
        SlurmArrayOperator(task_id=task_id, array_spec=ArraySpec.from_json(spec), poll=POLL)
    for task_id, names in CONFIG["sensors"].items():
        SlurmJobSensor(task_id=task_id, job_names=names, poll=POLL)
"""


@pytest.fixture(scope="module")
def stack(slurm_env: dict[str, str]) -> Iterator[AirflowStack]:
    home = CHECKOUT / ".lstflow" / "airflow-procs"
    shutil.rmtree(home, ignore_errors=True)  # the previous run's logs stay until the next run
    airflow = AirflowStack.create(home, home / "dags")
    try:
        airflow.start()
        yield airflow
    finally:
        airflow.close()


@pytest.fixture
def deploy(stack: AirflowStack) -> Iterator[Callable[..., str]]:
    """Write a DAG running each spec as one task (and a ``SlurmJobSensor`` per entry of
    ``sensors``: task id -> job names) and wait until it is parsed; give its id.

    Whatever the test's outcome, its jobs still in the queue are cancelled afterwards: they
    would otherwise hold the shared 2-core cluster.
    """
    dag_ids: list[str] = []

    def deploy_dag(
        label: str, specs: dict[str, ArraySpec], sensors: dict[str, list[str]] | None = None
    ) -> str:
        dag_id = f"procs_{label}_{uuid.uuid4().hex[:8]}"
        config = {
            "dag_id": dag_id,
            "tasks": {task_id: spec.to_json() for task_id, spec in specs.items()},
            "sensors": sensors or {},
            "poll": FAST_POLLING.to_json(),
        }
        dag_file = stack.dags_folder / f"{dag_id}.py"
        dag_file.write_text(DAG_FILE.format(config=json.dumps(config)))
        dag_ids.append(dag_id)
        stack.wait_for_dag(dag_id)
        return dag_id

    yield deploy_dag
    hook = SlurmHook()
    leftovers = [job for dag_id in dag_ids for job in _live_jobs(hook, f"lstflow.{dag_id}.")]
    hook.cancel(leftovers)


def _spec(remote_dir: str, name: str, items: list[WorkItem]) -> ArraySpec:
    return ArraySpec(name, tuple(items), log_dir=f"{remote_dir}/logs", workdir=remote_dir)


def _live_jobs(hook: SlurmHook, name_prefix: str) -> dict[str, str]:
    """``{array job id: job name}`` of our jobs still pending or running."""
    out = hook.check(["squeue", "--me", "-h", "-t", "PENDING,RUNNING", "-o", "%F|%j"]).stdout
    rows = (line.split("|", 1) for line in out.splitlines() if "|" in line)
    return {job: name for job, name in rows if name.startswith(name_prefix)}


def _final_states(hook: SlurmHook, job_ids: list[str]) -> dict[str, SlurmState]:
    """``{"<job>_<index>": state}`` from sacct, once every element has a final state."""

    def probe() -> dict[str, SlurmState] | None:
        rows = hook.element_states(job_ids).values()
        states = {str(row.element): row.state for row in rows if row.element.index is not None}
        done = states and all(row.finished for row in rows)
        return states if done else None

    return wait_until(probe, 120, f"sacct to show jobs {job_ids} final", interval=2)


def _deferred_with_trigger(stack: AirflowStack, dag_id: str, run_id: str, count: int) -> None:
    """Until ``count`` tasks are deferred and their triggers assigned to a triggerer."""
    stack.wait(
        lambda: (
            stack.query(
                "SELECT count(*) FROM task_instance ti JOIN trigger t ON ti.trigger_id = t.id "
                "WHERE ti.dag_id = %s AND ti.run_id = %s AND ti.state = 'deferred' "
                "AND t.triggerer_id IS NOT NULL",
                (dag_id, run_id),
            )[0][0]
            == count
        ),
        600,
        f"{count} deferred task(s) of {dag_id} with a triggerer",
    )


def _worker_starts(stack: AirflowStack, dag_id: str, run_id: str) -> int:
    """How often a worker started the run's tasks (Airflow's audit log: one ``running`` each)."""
    rows = stack.query(
        "SELECT count(*) FROM log WHERE dag_id = %s AND run_id = %s AND event = 'running'",
        (dag_id, run_id),
    )
    return int(rows[0][0])


def _poll_cycles(log: str) -> list[tuple[int, str]]:
    """(triggers watched, the log since the previous cycle) of each poll cycle in ``log``.

    The poller logs every command it sends before the line closing its cycle, so the text
    between two cycle lines is exactly the queries of one cycle.
    """
    cycles, start = [], 0
    for match in CYCLE_LINE.finditer(log):
        cycles.append((int(match.group(1)), log[start : match.start()]))
        start = match.end()
    return cycles


def test_triggerer_killed_mid_run_resumes_without_second_sbatch(
    stack: AirflowStack, deploy: Callable[..., str], remote_dir: str
) -> None:
    hook = SlurmHook()
    items = [WorkItem(f"nap{i}", ("sleep", "30"), Resources(mem="50M", time="5")) for i in (0, 1)]
    dag_id = deploy("kill", {"stage": _spec(remote_dir, "stage", items)})
    prefix = f"lstflow.{dag_id}.stage."
    run_id = stack.trigger(dag_id, "kill_triggerer")
    _deferred_with_trigger(stack, dag_id, run_id, 1)
    assert _live_jobs(hook, prefix), "the jobs must still be in flight when the triggerer dies"

    stack.restart("triggerer")  # kill -9 of its process group, then a fresh triggerer

    states = stack.wait_for_tasks(dag_id, run_id, all_in({"success", "failed"}), "to finish")
    assert states == {("stage", -1): "success"}
    try_number = stack.query(
        "SELECT try_number FROM task_instance WHERE dag_id = %s AND run_id = %s", (dag_id, run_id)
    )
    assert try_number == [(1,)]  # resumed by the new triggerer, not retried by the scheduler
    counts = count_jobs_by_tag(hook, prefix)
    assert list(counts.values()) == [1]  # one planned submission, sbatch'ed exactly once
    (job_name,) = counts
    job_ids = sorted(hook.find_jobs([job_name])[job_name])
    assert _final_states(hook, job_ids) == {
        f"{job_ids[0]}_0": SlurmState.COMPLETED,
        f"{job_ids[0]}_1": SlurmState.COMPLETED,
    }
    new_triggerer_log = stack.log_path("triggerer").read_text()
    assert f"squeue -h -t all -r -j {job_ids[0]} " in new_triggerer_log  # it took the trigger over
    # Every element completed: the new triggerer ended the task (no worker resumed it) and
    # published the report the operator handed it before deferring.
    assert _worker_starts(stack, dag_id, run_id) == 1
    (report,) = stack.query(
        "SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND key = 'return_value'",
        (dag_id, run_id),
    )
    value = report[0]  # PostgreSQL's json column: decoded once; the report is JSON text in it
    assert SlurmReport.parse(value) == SlurmReport("stage", 2, 2, tuple(job_ids))


def test_clearing_a_deferred_task_cancels_its_slurm_jobs(
    stack: AirflowStack, deploy: Callable[..., str], remote_dir: str
) -> None:
    hook = SlurmHook()
    items = [
        WorkItem(f"long{i}", ("sleep", "300"), Resources(mem="50M", time="10")) for i in (0, 1)
    ]
    dag_id = deploy("clear", {"stage": _spec(remote_dir, "stage", items)})
    prefix = f"lstflow.{dag_id}.stage."
    run_id = stack.trigger(dag_id, "clear_deferred")
    _deferred_with_trigger(stack, dag_id, run_id, 1)
    job_ids = sorted(_live_jobs(hook, prefix))
    assert len(job_ids) == 1

    stack.clear_task(dag_id, "stage")

    states = _final_states(hook, job_ids)
    assert states == {
        f"{job_ids[0]}_0": SlurmState.CANCELLED,
        f"{job_ids[0]}_1": SlurmState.CANCELLED,
    }
    log = stack.task_log_text(dag_id, run_id, "stage")  # trigger logs land with the task's
    assert "Trigger cancelled by user action, invoking on_kill" in log
    assert f"stage: cancelled Slurm jobs {job_ids[0]}" in log
    assert "on_kill() raised an exception" not in log
    # The cleared task runs again: its new try resubmits the cancelled elements, once.
    rerun = stack.wait(
        lambda: (
            count_jobs_by_tag(hook, prefix) if len(count_jobs_by_tag(hook, prefix)) == 2 else None
        ),
        180,
        "the cleared task to resubmit its cancelled elements",
    )
    assert set(rerun.values()) == {1}


def test_twenty_deferred_tasks_share_one_squeue_per_poll_cycle(
    stack: AirflowStack, deploy: Callable[..., str], remote_dir: str
) -> None:
    hook = SlurmHook()
    specs = {
        f"stage{n:02d}": _spec(remote_dir, f"stage{n:02d}", [WorkItem("one", ("true",), HELD)])
        for n in range(20)
    }
    dag_id = deploy("poll", specs)
    run_id = stack.trigger(dag_id, "twenty_deferred")
    _deferred_with_trigger(stack, dag_id, run_id, 20)

    def cycles_of_all_twenty() -> list[str] | None:
        texts = [
            text for triggers, text in _poll_cycles(stack.log_text("triggerer")) if triggers == 20
        ]
        return texts if len(texts) >= 4 else None

    measured = stack.wait(cycles_of_all_twenty, 180, "four poll cycles watching all 20 tasks")
    for commands in measured:
        assert commands.count("Slurm squeue over") == 1  # one query for all 20 tasks
        assert "Slurm sacct over" not in commands  # held jobs are live: accounting not needed

    job_ids = sorted(_live_jobs(hook, f"lstflow.{dag_id}."))
    assert len(job_ids) == 20
    hook.check(["scontrol", "update", f"JobId={','.join(job_ids)}", "StartTime=now"])
    states = stack.wait_for_tasks(dag_id, run_id, all_in({"success", "failed"}), "to finish")
    assert set(states.values()) == {"success"} and len(states) == 20
    counts = count_jobs_by_tag(hook, f"lstflow.{dag_id}.")
    assert len(counts) == 20 and set(counts.values()) == {1}


def test_sensor_and_operators_share_one_squeue_per_poll_cycle(
    stack: AirflowStack, deploy: Callable[..., str], remote_dir: str
) -> None:
    """A ``SlurmJobSensor`` on a job array submitted by hand over SSH, beside three operator
    tasks: the triggerer's poller answers all four with one squeue per cycle."""
    hook = SlurmHook()
    name = f"handmade_{uuid.uuid4().hex[:8]}"
    script = f"{remote_dir}/handmade.sh"
    ClusterFiles(hook).write(script, "#!/bin/bash\ntrue\n")
    held = ["--mem=50M", "--time=5", "--begin=now+1hour", f"--output={remote_dir}/%A_%a.out"]
    argv = ["sbatch", "--parsable", "--array=0-1", f"--job-name={name}", *held, script]
    hand_job = hook.check(argv).stdout.strip()
    specs = {
        f"stage{n}": _spec(remote_dir, f"stage{n}", [WorkItem("one", ("true",), HELD)])
        for n in range(3)
    }
    dag_id = deploy("sensor", specs, {"wait_by_hand": [name]})
    run_id = stack.trigger(dag_id, "sensor_and_operators")
    _deferred_with_trigger(stack, dag_id, run_id, 4)

    operator_jobs = _live_jobs(hook, f"lstflow.{dag_id}.")
    assert len(operator_jobs) == 3

    # The stack is shared by this module's tests: an earlier test's task may still be deferred,
    # so a cycle is recognised by the jobs it asks for, not by its number of triggers.
    def cycles_watching_the_sensor() -> list[str] | None:
        cycles = _poll_cycles(stack.log_text("triggerer"))
        texts = [text for triggers, text in cycles if triggers >= 4 and hand_job in text]
        return texts if len(texts) >= 3 else None

    measured = stack.wait(cycles_watching_the_sensor, 180, "three poll cycles with the sensor")
    for commands in measured:
        assert commands.count("Slurm squeue over") == 1  # one query for operators and sensor
        queried = commands.split("Slurm squeue over", 1)[1]
        assert all(job in queried for job in [hand_job, *operator_jobs]), queried

    job_ids = [*operator_jobs, hand_job]
    hook.check(["scontrol", "update", f"JobId={','.join(job_ids)}", "StartTime=now"])
    states = stack.wait_for_tasks(dag_id, run_id, all_in({"success", "failed"}), "to finish")
    assert set(states.values()) == {"success"} and len(states) == 4
    (report,) = stack.query(
        "SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = 'wait_by_hand' "
        "AND key = 'return_value'",
        (dag_id, run_id),
    )
    # PostgreSQL's json column decodes once; SlurmReport.parse decodes the trigger's JSON text
    assert SlurmReport.parse(report[0]) == SlurmReport("wait_by_hand", 2, 2, (hand_job,))
