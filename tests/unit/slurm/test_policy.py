"""Retry and escalation decisions of ``RetryPolicy``."""

from __future__ import annotations

import pytest
from lstflow.slurm.policy import (
    RetryPolicy,
    format_memory,
    format_time,
    memory_mb,
    time_minutes,
)
from lstflow.slurm.states import SlurmState
from lstflow.workitems import Resources

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "mb"), [("100M", 100), ("4G", 4096), ("2048", 2048), ("1T", 1048576), ("512K", 1)]
)
def test_memory_mb(text: str, mb: int) -> None:
    assert memory_mb(text) == mb


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("1", 1),
        ("90", 90),
        ("1:30", 2),
        ("2:00:00", 120),
        ("1-0", 1440),
        ("1-2:30", 1590),
        ("2-00:00:00", 2880),
    ],
)
def test_time_minutes(text: str, minutes: int) -> None:
    assert time_minutes(text) == minutes


def test_formats_round_trip() -> None:
    assert format_memory(4096) == "4G"
    assert format_memory(200) == "200M"
    assert format_time(2) == "00:02:00"
    assert format_time(1590) == "1-02:30:00"
    assert time_minutes(format_time(1590)) == 1590


def test_bad_values_name_the_fix() -> None:
    with pytest.raises(ValueError, match="--mem syntax"):
        memory_mb("lots")
    with pytest.raises(ValueError, match="--time syntax"):
        time_minutes("1h")
    with pytest.raises(ValueError, match="allowed_failure_fraction"):
        RetryPolicy(allowed_failure_fraction=2)


def test_failed_element_is_retried_with_same_resources() -> None:
    resources = Resources(mem="1G")
    decision = RetryPolicy().decide(SlurmState.FAILED, 1, resources)
    assert decision.resources == resources


def test_retries_stop_after_max_element_retries() -> None:
    policy = RetryPolicy(max_element_retries=2)
    assert policy.decide(SlurmState.FAILED, 2, Resources()).resources is not None
    decision = policy.decide(SlurmState.FAILED, 3, Resources())
    assert decision.resources is None and "no retries left" in decision.why


def test_cancelled_is_never_retried() -> None:
    decision = RetryPolicy().decide(SlurmState.CANCELLED, 1, Resources())
    assert decision.resources is None and "never retried" in decision.why


def test_out_of_memory_doubles_memory_up_to_ceiling() -> None:
    policy = RetryPolicy(memory_ceiling="300M", max_element_retries=5)
    first = policy.decide(SlurmState.OUT_OF_MEMORY, 1, Resources(mem="100M"))
    assert first.resources == Resources(mem="200M")
    second = policy.decide(SlurmState.OUT_OF_MEMORY, 2, Resources(mem="200M"))
    assert second.resources == Resources(mem="300M")
    third = policy.decide(SlurmState.OUT_OF_MEMORY, 3, Resources(mem="300M"))
    assert third.resources is None and "ceiling" in third.why


def test_out_of_memory_without_mem_escalates_from_cluster_default() -> None:
    decision = RetryPolicy(default_memory="2G").decide(SlurmState.OUT_OF_MEMORY, 1, Resources())
    assert decision.resources == Resources(mem="4G")


def test_timeout_doubles_time() -> None:
    decision = RetryPolicy().decide(SlurmState.TIMEOUT, 1, Resources(time="1"))
    assert decision.resources == Resources(time="00:02:00")


def test_escalation_changes_the_option_where_extra_sets_it() -> None:
    resources = Resources(mem="1G", extra=(("mem", "3G"), ("qos", "long")))
    decision = RetryPolicy().decide(SlurmState.OUT_OF_MEMORY, 1, resources)
    assert decision.resources is not None
    assert dict(decision.resources.sbatch_options())["mem"] == "6G"
    assert dict(decision.resources.sbatch_options())["qos"] == "long"


def test_failure_fraction() -> None:
    assert RetryPolicy().too_many_failures(1, 100)
    assert not RetryPolicy().too_many_failures(0, 100)
    assert not RetryPolicy(allowed_failure_fraction=0.05).too_many_failures(5, 100)
    assert RetryPolicy(allowed_failure_fraction=0.05).too_many_failures(6, 100)
