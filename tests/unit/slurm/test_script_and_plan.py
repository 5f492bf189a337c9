"""Script rendering (quoting, exit codes) and the array plan (grouping, chunking, retries)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lstflow.slurm.array_plan import ArrayPlan, RunIdentity, compact_indices
from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.policy import RetryPolicy
from lstflow.slurm.script import render_array_script
from lstflow.slurm.slurm_argv import SbatchRequest
from lstflow.slurm.states import SlurmState
from lstflow.workitems import ArraySpec, Resources, WorkItem

pytestmark = pytest.mark.unit

IDENTITY = RunIdentity("mc_prod", "manual__2026-01-01T00:00:00+00:00", "r0_to_dl1")


def _run_element(script: str, index: int, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "array.sh"
    path.write_text(script)
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(index), "SLURM_ARRAY_JOB_ID": "7"}
    return subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, check=False)


def test_script_runs_the_element_command_quoted_with_its_exit_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    items = [
        WorkItem("a", ("printf", "%s", f"x; touch {marker}")),
        WorkItem("b", ("sh", "-c", "exit 3")),
    ]
    script = render_array_script("stage", items, env=[("GREETING", "$(touch {marker}) hi")])
    first = _run_element(script, 0, tmp_path)
    assert first.returncode == 0
    assert f"x; touch {marker}" in first.stdout
    assert not marker.exists()
    assert _run_element(script, 1, tmp_path).returncode == 3
    assert _run_element(script, 2, tmp_path).returncode == 96


def test_script_prologue_runs_first_and_its_failure_stops_the_element(tmp_path: Path) -> None:
    env_file = tmp_path / "env with space.sh"
    env_file.write_text("export FROM_PROLOGUE=yes\n")
    items = [WorkItem("a", ("sh", "-c", 'echo "$FROM_PROLOGUE"'))]
    ok = render_array_script("stage", items, prologue=[("source", str(env_file))])
    assert _run_element(ok, 0, tmp_path).stdout.strip().endswith("yes")
    broken = render_array_script("stage", items, prologue=[("false",)])
    assert _run_element(broken, 0, tmp_path).returncode == 97


def test_script_rejects_bad_env_names_and_empty_commands() -> None:
    with pytest.raises(ValueError, match="not a valid shell name"):
        render_array_script("s", [WorkItem("a", ("true",))], env=[("A;B", "x")])
    with pytest.raises(ValueError, match="empty command line"):
        render_array_script("s", [WorkItem("a", ())])


def test_sbatch_argv_keeps_lstflow_options_last_and_refuses_reserved_ones() -> None:
    argv = SbatchRequest(
        "/s.sbatch",
        array="0-3%2",
        options=(("mem", "1G"), ("partition", "short")),
        job_name="lstflow.d.t.tok",
        comment="lstflow dag=d",
        workdir="/w",
        output="/l/s_%A_%a.out",
        error="/l/s_%A_%a.err",
    ).argv()
    assert argv[:4] == ["sbatch", "--parsable", "--mem=1G", "--partition=short"]
    assert argv[-1] == "/s.sbatch" and "--array=0-3%2" in argv
    with pytest.raises(ValueError, match="cannot be set from resources"):
        SbatchRequest(
            "/s",
            array="0",
            options=(("wrap", "rm -rf /"),),
            job_name="n",
            comment="c",
            workdir="/w",
            output="o",
            error="e",
        ).argv()


def _spec(n: int, resources: list[Resources] | None = None) -> ArraySpec:
    resources = resources or [Resources()] * n
    items = tuple(WorkItem(f"k{i}", ("true", str(i)), resources[i]) for i in range(n))
    return ArraySpec("stage", items, log_dir="/logs", workdir="/work", throttle=4)


def test_plan_groups_by_resources_and_chunks_to_max_array_size() -> None:
    big, small = Resources(mem="4G"), Resources(mem="1G")
    spec = _spec(7, [big, small, big, big, small, big, big])
    plan = ArrayPlan.create(spec, max_array_size=3)
    chunks = {}
    for element in plan.elements:
        chunks.setdefault(element.chunk, []).append((element.array_index, element.item))
    assert chunks == {0: [(0, 0), (1, 2), (2, 3)], 1: [(0, 5), (1, 6)], 2: [(0, 1), (1, 4)]}
    assert len(plan.chunk_scripts) == 3
    assert [item.key for item in plan.chunk_items(spec, 2)] == ["k1", "k4"]


def test_plan_retries_only_failed_elements_with_escalation_and_same_tokens() -> None:
    spec = _spec(4, [Resources(mem="100M")] * 4)
    plan = ArrayPlan.create(spec, max_array_size=1001)
    plan.round = 1
    (first,) = plan.submissions(IDENTITY)
    assert first.array_option(spec.throttle) == "0-3%4"
    assert first.job_name.startswith("lstflow.mc_prod.r0_to_dl1.")
    plan.record_submission(first, "50")
    assert plan.watch_list() == {"50": [0, 1, 2, 3]}
    statuses = [
        ElementStatus(ElementId("50", 0), SlurmState.COMPLETED, exit_code=0),
        ElementStatus(ElementId("50", 1), SlurmState.FAILED, exit_code=1),
        ElementStatus(ElementId("50", 2), SlurmState.OUT_OF_MEMORY, exit_code=0, signal=125),
        ElementStatus(ElementId("50", 3), SlurmState.CANCELLED, cancelled_by="1001"),
    ]
    decisions = plan.apply_results(statuses, RetryPolicy())
    assert len(decisions) == 3
    plan.round = 2
    retries = plan.submissions(IDENTITY)
    assert [(s.array_indices, s.resources.mem) for s in retries] == [((1,), "100M"), ((2,), "200M")]
    assert plan.submissions(IDENTITY) == retries  # deterministic: what makes adoption work
    assert plan.completed() == 1
    assert [e.state for e in plan.failures()] == ["CANCELLED"]
    restored = ArrayPlan.from_json(plan.to_json())
    assert restored.to_json() == plan.to_json()


def test_new_try_reruns_failed_elements_only() -> None:
    plan = ArrayPlan.create(_spec(2), max_array_size=1001)
    plan.round = 1
    (submission,) = plan.submissions(IDENTITY)
    plan.record_submission(submission, "60")
    plan.apply_results(
        [
            ElementStatus(ElementId("60", 0), SlurmState.COMPLETED, exit_code=0),
            ElementStatus(ElementId("60", 1), SlurmState.CANCELLED, cancelled_by="0"),
        ],
        RetryPolicy(),
    )
    plan.start_try()
    assert [e.needs_submission for e in plan.elements] == [False, True]


def test_jobs_cancelled_under_an_earlier_try_rerun_but_a_cancel_in_this_try_is_final() -> None:
    plan = ArrayPlan.create(_spec(2), max_array_size=1001)
    plan.round = 1
    (submission,) = plan.submissions(IDENTITY)
    plan.record_submission(submission, "70")
    plan.start_try()  # the task was cleared while its jobs ran: try 2 re-attaches
    plan.apply_results(
        [ElementStatus(ElementId("70", 0), SlurmState.CANCELLED, cancelled_by="1001")],
        RetryPolicy(),
    )
    assert plan.elements[0].needs_submission
    assert plan.elements[0].note == "rerun by task try 2 after CANCELLED"
    (rerun,) = plan.submissions(IDENTITY)
    plan.record_submission(rerun, "71")
    plan.apply_results(
        [
            ElementStatus(ElementId("71", 0), SlurmState.CANCELLED, cancelled_by="1001"),
            ElementStatus(ElementId("70", 1), SlurmState.COMPLETED, exit_code=0),
        ],
        RetryPolicy(),
    )
    assert [e.final for e in plan.elements] == [True, True]
    assert plan.failures() == [plan.elements[0]]


def test_compact_indices() -> None:
    assert compact_indices([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert compact_indices([3, 17]) == "3,17"


@pytest.mark.parametrize("name", ["lst1_20200117_v0.12.3\nid_r0_to_dl1", "a\rb"])
def test_an_array_name_cannot_end_the_scripts_comment_line(name: str) -> None:
    item = WorkItem("k", ("true",), Resources())
    with pytest.raises(ValueError, match="newline or control character"):
        render_array_script(name, [item])


@pytest.mark.parametrize("key", ["PATH\n", "A\nB"])
def test_an_environment_name_is_matched_whole(key: str) -> None:
    item = WorkItem("k", ("true",), Resources())
    with pytest.raises(ValueError, match="not a valid shell name"):
        render_array_script("array", [item], env=[(key, "x")])
