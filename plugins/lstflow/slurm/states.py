"""Slurm job states and what each one means for an lstflow array element.

Slurm prints states in two dialects: squeue/scontrol (``CANCELLED``) and sacct (``CANCELLED by
1001``, where the suffix names the uid that cancelled). Both reduce to one ``SlurmState`` here.
"""

from __future__ import annotations

from enum import StrEnum


class SlurmState(StrEnum):
    """Every job state documented in squeue(1) and sacct(1) for Slurm 22.05+."""

    PENDING = "PENDING"
    CONFIGURING = "CONFIGURING"
    RUNNING = "RUNNING"
    COMPLETING = "COMPLETING"
    SUSPENDED = "SUSPENDED"
    STOPPED = "STOPPED"
    SIGNALING = "SIGNALING"
    STAGE_OUT = "STAGE_OUT"
    RESIZING = "RESIZING"
    REQUEUED = "REQUEUED"
    REQUEUE_HOLD = "REQUEUE_HOLD"
    REQUEUE_FED = "REQUEUE_FED"
    RESV_DEL_HOLD = "RESV_DEL_HOLD"
    SPECIAL_EXIT = "SPECIAL_EXIT"
    PREEMPTED = "PREEMPTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    TIMEOUT = "TIMEOUT"
    NODE_FAIL = "NODE_FAIL"
    BOOT_FAIL = "BOOT_FAIL"
    CANCELLED = "CANCELLED"
    DEADLINE = "DEADLINE"
    REVOKED = "REVOKED"


# States after which Slurm will do nothing more with the element on its own.
TERMINAL_STATES = frozenset(
    {
        SlurmState.COMPLETED,
        SlurmState.FAILED,
        SlurmState.OUT_OF_MEMORY,
        SlurmState.TIMEOUT,
        SlurmState.NODE_FAIL,
        SlurmState.BOOT_FAIL,
        SlurmState.CANCELLED,
        SlurmState.DEADLINE,
        SlurmState.REVOKED,
        SlurmState.SPECIAL_EXIT,
    }
)

# While the controller still holds the job, a preempted or requeued element is Slurm's to
# restart; only a final sacct row (the job left the controller in that state) ends it.
REQUEUE_STATES = frozenset(
    {SlurmState.PREEMPTED, SlurmState.REQUEUED, SlurmState.REQUEUE_HOLD, SlurmState.REQUEUE_FED}
)


def parse_state(text: str) -> tuple[SlurmState, str | None]:
    """Parse ``RUNNING`` or sacct's ``CANCELLED by 1001`` into (state, cancelling uid).

    Raises ``ValueError`` for a state Slurm does not document, so that a new Slurm release is
    noticed instead of being mistaken for success.
    """
    word, _, rest = text.strip().partition(" ")
    word = word.rstrip("+")  # sacct marks truncated or multi-state values with '+'
    try:
        state = SlurmState(word)
    except ValueError:
        raise ValueError(f"unknown Slurm job state {text!r}") from None
    cancelled_by = None
    if state is SlurmState.CANCELLED and rest.startswith("by "):
        cancelled_by = rest[3:].strip() or None
    return state, cancelled_by


def is_finished(state: SlurmState, *, from_accounting: bool) -> bool:
    """Whether an element in ``state`` will not change any more.

    ``from_accounting`` is true for sacct rows of jobs the controller has already forgotten: a
    PREEMPTED element there was not requeued, so it is over.
    """
    if state in TERMINAL_STATES:
        return True
    return from_accounting and state in REQUEUE_STATES
