"""A dry run's preview: every command (a file batch's lstchain commands) and, per overwrite
policy, what a real run would do."""

from __future__ import annotations

import pytest

from lstflow.productions.dry_run import DryRunPreview
from lstflow.stages.base import StagePlan
from lstflow.workitems import WorkItem

pytestmark = pytest.mark.unit

BATCH = ("python", "-m", "lstflow.jobs.batch", "/logs/m.json", "--element", "0")


def batch_plan() -> StagePlan:
    items = (
        WorkItem("r0_to_dl1[0].0", BATCH, outputs=("/o/dl1_a.h5", "/o/dl1_b.h5")),
        WorkItem("r0_to_dl1[0].1", (*BATCH[:-1], "1"), outputs=("/o/dl1_c.h5",)),
    )
    commands = {
        "r0_to_dl1[0].0": (
            ("lstchain_mc_r0_to_dl1", "--input-file=/i/a.simtel.gz"),
            ("lstchain_mc_r0_to_dl1", "--input-file=/i/b c.simtel.gz"),
        ),
        "r0_to_dl1[0].1": (("lstchain_mc_r0_to_dl1", "--input-file=/i/c.simtel.gz"),),
    }
    return StagePlan(
        "r0_to_dl1",
        items,
        "/logs/r0_to_dl1",
        files=(("/logs/m.json", "{}"),),
        tool_commands=tuple(commands.items()),
    )


def test_a_dry_run_lists_the_lstchain_commands_not_the_batch_wrapper() -> None:
    preview = DryRunPreview.of(batch_plan(), existing=set())
    assert preview.commands == (
        "lstchain_mc_r0_to_dl1 --input-file=/i/a.simtel.gz",
        "lstchain_mc_r0_to_dl1 '--input-file=/i/b c.simtel.gz'",
        "lstchain_mc_r0_to_dl1 --input-file=/i/c.simtel.gz",
    )
    lines = preview.log_lines()
    assert lines[0] == "r0_to_dl1: DRY RUN, nothing submitted: 2 element(s)"
    assert "r0_to_dl1: would write /logs/m.json" in lines
    assert not any("lstflow.jobs.batch" in line for line in lines)
    assert set(preview.policy_outcomes().values()) == {
        "submit all 2 element(s) (no output exists yet)"
    }


def test_a_dry_run_over_some_existing_outputs_says_what_each_policy_would_do() -> None:
    preview = DryRunPreview.of(batch_plan(), existing={"/o/dl1_a.h5", "/o/dl1_b.h5"})
    assert preview.policy_outcomes() == {
        "refuse": "fail: 2 of 3 output(s) already exist, nothing submitted",
        "skip": "submit 1 of 2 element(s); 1 have all their outputs",
        "overwrite": "rename 2 existing output(s) aside, then submit all 2 element(s)",
    }
    document = preview.to_json()
    assert document["dry_run"] is True and document["complete_elements"] == 1


def test_a_dry_run_reports_input_problems_instead_of_failing() -> None:
    problem = "stages.merge_dl1[0].input: input directory /nope does not exist"
    preview = DryRunPreview.of(batch_plan(), existing=set(), input_problems=[problem])
    assert any(line.endswith(problem) for line in preview.log_lines())
    assert preview.to_json()["input_problems"] == [problem]
