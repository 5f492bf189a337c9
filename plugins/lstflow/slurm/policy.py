"""The Slurm layer's two policies, passed whole to operators, sensors and triggers:
``RetryPolicy`` (what to do with an element that ended badly: retry it, maybe with more memory
or time, or give up) and ``PollSettings`` (how often and how patiently to ask Slurm).
Pure, so every rule is unit-tested without a cluster."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from lstflow.slurm.states import REQUEUE_STATES, SlurmState
from lstflow.workitems import Resources

_MEMORY = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)(?P<unit>[KMGT]?)B?$", re.IGNORECASE)
_UNIT_MB = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}

# Failures that another attempt can fix. CANCELLED is somebody's decision and DEADLINE/REVOKED
# are the scheduler's: retrying them would overrule a human or Slurm.
RETRYABLE_STATES = frozenset(
    {
        SlurmState.FAILED,
        SlurmState.OUT_OF_MEMORY,
        SlurmState.TIMEOUT,
        SlurmState.NODE_FAIL,
        SlurmState.BOOT_FAIL,
        SlurmState.SPECIAL_EXIT,
        *REQUEUE_STATES,
    }
)


def memory_mb(text: str) -> int:
    """Slurm ``--mem`` syntax (``100M``, ``4G``, ``2048`` = MB) in megabytes."""
    match = _MEMORY.match(text.strip())
    if match is None:
        raise ValueError(f"cannot read memory {text!r}; use Slurm's --mem syntax, e.g. '4G'")
    return max(1, round(float(match["amount"]) * _UNIT_MB[match["unit"].upper()]))


def format_memory(megabytes: int) -> str:
    return f"{megabytes // 1024}G" if megabytes % 1024 == 0 else f"{megabytes}M"


def time_minutes(text: str) -> int:
    """Slurm ``--time`` syntax (``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``) in
    whole minutes, rounded up like Slurm does."""
    value = text.strip()
    days, dash, clock = value.rpartition("-") if "-" in value else ("0", "", value)
    parts = clock.split(":")
    if not (days.isdigit() and all(part.isdigit() for part in parts) and 1 <= len(parts) <= 3):
        raise ValueError(
            f"cannot read time limit {text!r}; use Slurm's --time syntax, e.g. '2:00:00'"
        )
    numbers = [int(part) for part in parts]
    if dash:  # D-H, D-H:M, D-H:M:S
        hours, minutes, seconds = [*numbers, 0, 0][:3]
    elif len(numbers) == 3:
        hours, minutes, seconds = numbers
    else:  # M or M:S
        hours, minutes, seconds = 0, numbers[0], numbers[1] if len(numbers) == 2 else 0
    total_seconds = ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds
    return max(1, -(-total_seconds // 60))


def format_time(minutes: int) -> str:
    days, rest = divmod(minutes, 24 * 60)
    clock = f"{rest // 60:02d}:{rest % 60:02d}:00"
    return f"{days}-{clock}" if days else clock


@dataclass(frozen=True)
class PollSettings:
    """How the shared poller asks Slurm; seconds in tests, minutes in production.

    :param poll_interval: seconds between status queries while something changes.
    :param max_poll_interval: the longest wait, reached by ``backoff_factor`` while idle.
    :param sacct_grace_period: how long an element may be in neither squeue nor sacct.
    :param query_attempts: failed status queries in a row before the watch fails.
    :param retry_delay: seconds before retrying a failed query (times the attempt number).
    :param command_timeout: seconds one squeue/sacct call may take.
    """

    poll_interval: float = 60.0
    max_poll_interval: float = 600.0
    backoff_factor: float = 1.5
    sacct_grace_period: float = 120.0
    query_attempts: int = 5
    retry_delay: float = 5.0
    command_timeout: float = 120.0

    def __post_init__(self) -> None:
        if self.poll_interval <= 0 or self.max_poll_interval < self.poll_interval:
            raise ValueError("poll_interval must be > 0 and <= max_poll_interval")
        if self.query_attempts < 1:
            raise ValueError("query_attempts must be >= 1")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PollSettings:
        return cls(**data)


@dataclass(frozen=True)
class RetryPolicy:
    """Per-operator retry rules; ``default_*`` are what the cluster gives an element that asks
    for nothing, the base an escalation doubles from."""

    max_element_retries: int = 2
    allowed_failure_fraction: float = 0.0
    memory_factor: float = 2.0
    time_factor: float = 2.0
    memory_ceiling: str = "64G"
    time_ceiling: str = "2-00:00:00"
    default_memory: str = "2G"
    default_time: str = "1:00:00"

    def __post_init__(self) -> None:
        if self.max_element_retries < 0:
            raise ValueError("max_element_retries must be >= 0")
        if not 0.0 <= self.allowed_failure_fraction <= 1.0:
            raise ValueError("allowed_failure_fraction must be between 0 and 1")
        if self.memory_factor <= 1 or self.time_factor <= 1:
            raise ValueError("memory_factor and time_factor must be > 1, or escalation never grows")
        for text in (self.memory_ceiling, self.default_memory):
            memory_mb(text)
        for text in (self.time_ceiling, self.default_time):
            time_minutes(text)

    def decide(self, state: SlurmState, attempts: int, resources: Resources) -> RetryDecision:
        """Whether an element that ended in ``state`` after ``attempts`` submissions runs again."""
        if state not in RETRYABLE_STATES:
            return RetryDecision(None, f"{state} is final and never retried")
        if attempts > self.max_element_retries:
            return RetryDecision(None, f"no retries left ({attempts} attempts)")
        if state is SlurmState.OUT_OF_MEMORY:
            return self._escalate(resources, "mem")
        if state is SlurmState.TIMEOUT:
            return self._escalate(resources, "time")
        return RetryDecision(resources, f"retry after {state}")

    def _escalate(self, resources: Resources, option: str) -> RetryDecision:
        """Grow ``--mem`` or ``--time`` by its factor, capped at its ceiling."""
        to_number: Callable[[str], int]
        to_text: Callable[[int], str]
        if option == "mem":
            to_number, to_text, factor = memory_mb, format_memory, self.memory_factor
            default, ceiling = self.default_memory, memory_mb(self.memory_ceiling)
        else:
            to_number, to_text, factor = time_minutes, format_time, self.time_factor
            default, ceiling = self.default_time, time_minutes(self.time_ceiling)
        current = to_number(dict(resources.sbatch_options()).get(option, default))
        if current >= ceiling:
            return RetryDecision(None, f"--{option} is already at the ceiling {to_text(ceiling)}")
        grown = min(ceiling, int(current * factor + 0.5))
        return RetryDecision(
            set_option(resources, option, to_text(grown)),
            f"retry with --{option}={to_text(grown)} (was {to_text(current)})",
        )

    def too_many_failures(self, failed: int, total: int) -> bool:
        return total > 0 and failed / total > self.allowed_failure_fraction


@dataclass(frozen=True)
class RetryDecision:
    """``resources`` is what the retry runs with, or ``None`` to give up; ``why`` is logged."""

    resources: Resources | None
    why: str


def set_option(resources: Resources, option: str, value: str) -> Resources:
    """Set ``--option`` where it currently comes from, so ``extra`` cannot shadow the change."""
    if any(name == option for name, _ in resources.extra):
        extra = tuple((name, value if name == option else old) for name, old in resources.extra)
        return replace(resources, extra=extra)
    return resources.with_overrides(**{option: value})
