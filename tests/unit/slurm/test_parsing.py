"""Every squeue/sacct/sbatch/scontrol output format measured on the local cluster."""

from __future__ import annotations

import pytest

from lstflow.slurm.elements import ElementId, SlurmOutputError, expand_index_ranges
from lstflow.slurm.parsing import (
    elapsed_seconds,
    parse_exit_code,
    parse_named_jobs,
    parse_sacct,
    parse_sacct_rows,
    parse_sbatch_parsable,
    parse_scontrol_config,
    parse_squeue,
    rss_bytes,
)
from lstflow.slurm.states import SlurmState, parse_state

pytestmark = pytest.mark.unit


def test_squeue_expanded_array_rows_give_one_status_per_element() -> None:
    text = "23_0|RUNNING|None\n23_1|COMPLETED|None\n25_2|FAILED|NonZeroExitCode\n"
    rows = parse_squeue(text)
    assert [str(r.element) for r in rows] == ["23_0", "23_1", "25_2"]
    assert rows[0].state is SlurmState.RUNNING and rows[0].reason is None
    assert rows[2].state is SlurmState.FAILED and rows[2].reason == "NonZeroExitCode"
    assert rows[2].exit_code is None and not rows[2].from_accounting


def test_squeue_folded_throttled_pending_range_is_expanded() -> None:
    rows = parse_squeue("123_[4-9%2]|PENDING|JobArrayTaskLimit\n")
    assert [r.element for r in rows] == [ElementId("123", i) for i in range(4, 10)]
    assert {r.state for r in rows} == {SlurmState.PENDING}
    assert {r.reason for r in rows} == {"JobArrayTaskLimit"}


def test_squeue_plain_job_and_comma_ranges() -> None:
    rows = parse_squeue("51|COMPLETED|None\n8_[1,3,5-6]|PENDING|Priority\n")
    assert [str(r.element) for r in rows] == ["51", "8_1", "8_3", "8_5", "8_6"]


def test_squeue_empty_output_is_no_rows() -> None:
    assert parse_squeue("") == []


def test_squeue_rejects_unknown_state_instead_of_guessing() -> None:
    with pytest.raises(SlurmOutputError, match="unknown Slurm job state"):
        parse_squeue("1_0|EXPLODED|None")


def test_squeue_rejects_wrong_field_count() -> None:
    with pytest.raises(SlurmOutputError, match="3 '\\|'-separated fields"):
        parse_squeue("1_0 RUNNING None")


def test_sacct_cancelled_by_uid_is_cancelled_with_canceller() -> None:
    (row,) = parse_sacct("39|job|00:00:02|2|00:00:01|00:00.5||CANCELLED by 1001|0:0\n")
    assert row.state is SlurmState.CANCELLED
    assert row.cancelled_by == "1001"
    assert row.exit_code == 0 and row.signal == 0
    assert row.from_accounting and row.finished


def test_sacct_array_rows_exit_codes_and_steps_skipped() -> None:
    text = (
        "20_0|job|00:00:02|2|00:00:01|00:00.5||COMPLETED|0:0\n20_0.batch|batch|00:00:02|2|00:00:01|00:00.5||COMPLETED|0:0\n20_3|job|00:00:02|2||00:00.5||FAILED|3:0\n"
        "41|job|00:00:02|2||00:00.5||OUT_OF_MEMORY|0:125\n42|job|00:00:02|2||00:00.5||TIMEOUT|0:0\n24|job|00:00:02|2||00:00.5||FAILED|0:9\n"
    )
    rows = {str(r.element): r for r in parse_sacct(text)}
    assert set(rows) == {"20_0", "20_3", "41", "42", "24"}
    assert (rows["20_3"].state, rows["20_3"].exit_code) == (SlurmState.FAILED, 3)
    assert (rows["41"].state, rows["41"].signal) == (SlurmState.OUT_OF_MEMORY, 125)
    assert rows["42"].state is SlurmState.TIMEOUT
    assert (rows["24"].exit_code, rows["24"].signal) == (0, 9)


def test_sacct_pending_array_range_is_expanded() -> None:
    rows = parse_sacct("28_[0-3]|job|00:00:02|2|00:00:00|00:00.5||PENDING|0:0\n")
    assert [r.element.index for r in rows] == [0, 1, 2, 3]
    assert not any(r.finished for r in rows)


@pytest.mark.parametrize("reverse", [False, True], ids=["as-printed", "reversed"])
def test_sacct_elements_own_row_wins_over_a_stale_folded_remainder(reverse: bool) -> None:
    # Measured on the local cluster: aftercorr split element 0 out of the pending remainder,
    # and slurmdbd kept the cancelled remainder's range at [0-1].
    lines = [
        "18855_0|d|00:00:01|1|00:00:01|00:00.1||COMPLETED|0:0",
        "18855_[0-1]|d|00:00:00|0|00:00:00|00:00:00||CANCELLED|0:0",
    ]
    text = "\n".join(reversed(lines) if reverse else lines)
    states = {str(r.element): r.state for r in parse_sacct(text)}
    assert states == {"18855_0": SlurmState.COMPLETED, "18855_1": SlurmState.CANCELLED}


def test_sacct_purged_or_unknown_job_gives_no_rows() -> None:
    assert parse_sacct("") == []


def test_preempted_is_slurms_business_in_squeue_but_final_in_sacct() -> None:
    (live,) = parse_squeue("7_1|PREEMPTED|None")
    (accounted,) = parse_sacct("7_1|job|00:00:02|2||00:00.5||PREEMPTED|0:0")
    assert not live.finished
    assert accounted.finished


def test_failure_without_exit_code_needs_accounting() -> None:
    (failed,) = parse_squeue("9_0|FAILED|NonZeroExitCode")
    (done,) = parse_squeue("9_1|COMPLETED|None")
    assert failed.needs_accounting
    assert not done.needs_accounting


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1:0", (1, 0)), ("0:125", (0, 125)), ("0:15", (0, 15)), ("", (None, None))],
)
def test_exit_code(text: str, expected: tuple[int | None, int | None]) -> None:
    assert parse_exit_code(text) == expected


def test_exit_code_garbage_is_an_error() -> None:
    with pytest.raises(SlurmOutputError):
        parse_exit_code("one:zero")


def test_state_dialects() -> None:
    assert parse_state("CANCELLED by 0") == (SlurmState.CANCELLED, "0")
    assert parse_state("CANCELLED") == (SlurmState.CANCELLED, None)
    assert parse_state("RUNNING") == (SlurmState.RUNNING, None)
    assert parse_state("OUT_OF_MEMORY") == (SlurmState.OUT_OF_MEMORY, None)


def test_index_ranges() -> None:
    assert expand_index_ranges("0-2,5%4") == [0, 1, 2, 5]
    with pytest.raises(SlurmOutputError):
        expand_index_ranges("a-b")


def test_sbatch_parsable() -> None:
    assert parse_sbatch_parsable("123\n") == "123"
    assert parse_sbatch_parsable("123;testcluster\n") == "123"
    with pytest.raises(SlurmOutputError, match="not a job id"):
        parse_sbatch_parsable("sbatch: error: Batch job submission failed")


def test_scontrol_config() -> None:
    text = (
        "Configuration data as of 2026-11-21T10:00:00\n"
        "MaxArraySize            = 1001\n"
        "MinJobAge               = 300 sec\n"
    )
    config = parse_scontrol_config(text)
    assert config["MaxArraySize"] == "1001"
    assert config["MinJobAge"] == "300 sec"


def test_named_jobs_from_squeue_and_sacct_rows() -> None:
    text = (
        "lstflow.d.t.aaa|30\nlstflow.d.t.aaa|30_1\n"
        "lstflow.d.t.bbb|31_[0-3]\nlstflow.d.t.aaa|30_1.batch\n"
    )
    assert parse_named_jobs(text) == {"lstflow.d.t.aaa": {"30"}, "lstflow.d.t.bbb": {"31"}}


def test_element_id_round_trip() -> None:
    assert ElementId.parse("123_4") == ElementId("123", 4)
    assert str(ElementId("123", 4)) == "123_4"
    with pytest.raises(SlurmOutputError):
        ElementId.parse("123_[1-2]")


def test_sacct_elapsed_forms() -> None:
    assert elapsed_seconds("00:01:05") == 65
    assert elapsed_seconds("1-02:00:00") == 93600
    assert elapsed_seconds("03:07.250") == pytest.approx(187.25)
    assert elapsed_seconds("") is None


def test_sacct_maxrss_units() -> None:
    assert rss_bytes("2048K") == 2 * 1024 * 1024
    assert rss_bytes("1.5G") == int(1.5 * 2**30)
    assert rss_bytes("0") == 0
    assert rss_bytes("") is None


def test_sacct_usage_takes_elapsed_from_the_allocation_and_memory_from_its_largest_step() -> None:
    output = (
        "501_0|job|00:00:02|2|00:00:42|00:00.5||COMPLETED|0:0\n"
        "501_0.batch|batch|00:00:02|2|00:00:42|00:00.5|81234K|COMPLETED|0:0\n"
        "501_0.extern|batch|00:00:02|2|00:00:42|00:00.5|1024K|COMPLETED|0:0\n"
        "501_1|job|00:00:02|2|00:01:00|00:00.5||OUT_OF_MEMORY|0:125\n"
        "501_1.batch|batch|00:00:02|2|00:01:00|00:00.5|2G|OUT_OF_MEMORY|0:125\n"
        "502|job|00:00:02|2|00:00:03|00:00.5||CANCELLED by 1001|0:0\n"
    )
    usage = {str(row.element): row for row in parse_sacct(output)}
    assert set(usage) == {"501_0", "501_1", "502"}
    assert (usage["501_0"].state, usage["501_0"].elapsed_s) == (SlurmState.COMPLETED, 42.0)
    assert usage["501_0"].max_rss_bytes == 81234 * 1024
    assert usage["501_1"].state is SlurmState.OUT_OF_MEMORY
    assert usage["501_1"].max_rss_bytes == 2 * 2**30
    assert (usage["502"].state, usage["502"].cancelled_by) == (SlurmState.CANCELLED, "1001")
    assert (usage["502"].elapsed_s, usage["502"].max_rss_bytes) == (3.0, None)


def test_sacct_rejects_the_old_three_field_format() -> None:
    with pytest.raises(SlurmOutputError, match="9 '\\|'-separated fields"):
        parse_sacct("20_0|COMPLETED|0:0")


def test_sacct_rows_keep_every_row_as_printed_for_lstosas_job_information() -> None:
    text = (
        "61_0|lst1_dl1|00:00:12|12|00:00:06|00:05.1||COMPLETED|0:0\n"
        "61_0.batch|batch|00:00:12|12|00:00:06|00:05.1|0.04G|COMPLETED|0:0\n"
    )
    allocation, step = parse_sacct_rows(text)
    assert allocation.elements == (ElementId("61", 0),) and step.elements == ()
    assert step.values() == tuple(text.splitlines()[1].split("|"))
    (status,) = parse_sacct(text)
    assert (status.job_name, status.cpu_seconds) == ("lst1_dl1", 12)
    assert status.max_rss_bytes == int(0.04 * 2**30)
