"""Parsers for the text Slurm's client commands print. Pure functions, no I/O.

Formats (measured on Slurm 22.05, see the local-cluster reference):

- ``squeue -h -t all -r -o '%i|%T|%r'``: ``123_4|FAILED|NonZeroExitCode``; a throttled pending
  remainder may still appear folded as ``123_[4-9%2]|PENDING|JobArrayTaskLimit``.
- ``sacct -X --parsable2 --noheader -o JobID,State,ExitCode``: ``123_4|CANCELLED by 1001|0:0``,
  ``123_[0-3]|PENDING|0:0`` while pending, ``124|FAILED|1:0`` for a plain job.
- ``sbatch --parsable``: ``123`` or ``123;cluster``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from lstflow.slurm.states import SlurmState, is_finished, parse_state

SQUEUE_FORMAT = "%i|%T|%r"
SACCT_FIELDS = "JobID,State,ExitCode"

_JOB_ID = re.compile(r"^(?P<job>\d+)(?:_(?P<index>\d+|\[(?P<ranges>[^\]]*)\]))?(?P<step>\..+)?$")


class SlurmOutputError(ValueError):
    """Slurm printed something lstflow cannot read; never guessed around."""


@dataclass(frozen=True, order=True)
class ElementId:
    """One array element (``index`` set) or one plain job (``index`` is ``None``)."""

    job_id: str
    index: int | None = None

    def __str__(self) -> str:
        return self.job_id if self.index is None else f"{self.job_id}_{self.index}"

    @classmethod
    def parse(cls, text: str) -> ElementId:
        job_id, indices, step = parse_job_id(text)
        if step or indices is None or len(indices) != 1:
            raise SlurmOutputError(f"{text!r} is not a single job or array element id")
        return cls(job_id, indices[0])


@dataclass(frozen=True)
class ElementStatus:
    element: ElementId
    state: SlurmState
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    cancelled_by: str | None = None
    from_accounting: bool = False  # a sacct row: the controller has forgotten the job

    @property
    def finished(self) -> bool:
        return is_finished(self.state, from_accounting=self.from_accounting)

    @property
    def needs_accounting(self) -> bool:
        """A failure whose exit code or canceller only sacct can tell."""
        return self.finished and self.state is not SlurmState.COMPLETED and self.exit_code is None


_NO_ELEMENT = ElementId("0")


def expand_index_ranges(ranges: str) -> list[int]:
    """``4-9%2`` -> 4..9; ``1,3,5-7`` -> 1,3,5,6,7 (the ``%N`` throttle is dropped)."""
    body = ranges.split("%", 1)[0]
    indices: list[int] = []
    for part in body.split(","):
        start, sep, end = part.partition("-")
        if not start.isdigit() or (sep and not end.isdigit()):
            raise SlurmOutputError(f"cannot read array index range {ranges!r}")
        step_end = int(end) if sep else int(start)
        indices.extend(range(int(start), step_end + 1))
    return indices


def parse_job_id(text: str) -> tuple[str, list[int | None] | None, str | None]:
    """Split ``123_[4-9%2]``/``123_4``/``123``/``123_4.batch`` into (job, indices, step).

    ``indices`` is ``[None]`` for a plain job.
    """
    match = _JOB_ID.match(text.strip())
    if match is None:
        raise SlurmOutputError(f"cannot read Slurm job id {text!r}")
    step = match["step"]
    if match["ranges"] is not None:
        indices: list[int | None] = list(expand_index_ranges(match["ranges"]))
    elif match["index"] is not None:
        indices = [int(match["index"])]
    else:
        indices = [None]
    return match["job"], indices, step


def parse_exit_code(text: str) -> tuple[int | None, int | None]:
    """``1:0`` -> (1, 0): exit status and terminating signal, as scontrol and sacct print them."""
    text = text.strip()
    if not text:
        return None, None
    code, sep, signal = text.partition(":")
    if not code.isdigit() or (sep and not signal.isdigit()):
        raise SlurmOutputError(f"cannot read Slurm exit code {text!r}")
    return int(code), int(signal) if sep else 0


def _split(line: str, fields: int, command: str) -> list[str]:
    parts = line.split("|")
    if len(parts) != fields:
        raise SlurmOutputError(
            f"{command} printed {line!r}; expected {fields} '|'-separated fields"
        )
    return parts


def _expand(job_field: str, status: ElementStatus) -> list[ElementStatus]:
    """One status per element of ``job_field``; job steps (``123_4.batch``) give none."""
    job_id, indices, step = parse_job_id(job_field)
    if step is not None or indices is None:
        return []
    return [replace(status, element=ElementId(job_id, index)) for index in indices]


def parse_squeue(text: str) -> list[ElementStatus]:
    """Rows of ``squeue -h -t all -r -o '%i|%T|%r'``, folded pending ranges expanded."""
    statuses: list[ElementStatus] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        job_field, state_text, reason = _split(line, 3, "squeue")
        try:
            state, cancelled_by = parse_state(state_text)
        except ValueError as error:
            raise SlurmOutputError(str(error)) from None
        reason_or_none = None if reason in ("", "None") else reason
        template = ElementStatus(_NO_ELEMENT, state, reason_or_none, cancelled_by=cancelled_by)
        statuses += _expand(job_field, template)
    return statuses


def parse_sacct(text: str) -> list[ElementStatus]:
    """Rows of ``sacct -X --parsable2 --noheader -o JobID,State,ExitCode``; steps are skipped."""
    statuses: list[ElementStatus] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        job_field, state_text, exit_text = _split(line, 3, "sacct")
        try:
            state, cancelled_by = parse_state(state_text)
        except ValueError as error:
            raise SlurmOutputError(str(error)) from None
        exit_code, signal = parse_exit_code(exit_text)
        template = ElementStatus(
            _NO_ELEMENT, state, None, exit_code, signal, cancelled_by, from_accounting=True
        )
        statuses += _expand(job_field, template)
    return statuses


def parse_sbatch_parsable(text: str) -> str:
    """The job id from ``sbatch --parsable`` (``123`` or ``123;cluster``)."""
    job_id = text.strip().split(";", 1)[0]
    if not job_id.isdigit():
        raise SlurmOutputError(f"sbatch --parsable printed {text.strip()!r}, not a job id")
    return job_id


def parse_scontrol_config(text: str) -> dict[str, str]:
    """``scontrol show config`` as a dict: ``MaxArraySize = 1001`` -> ``{"MaxArraySize": ...}``."""
    config: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and " " not in key.strip():
            config[key.strip()] = value.strip()
    return config


def parse_named_jobs(text: str) -> dict[str, set[str]]:
    """``JobName|JobID`` rows (squeue ``%j|%F``, sacct ``JobName,JobID``) -> {name: job ids}."""
    jobs: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, job_field = line.rsplit("|", 1)
        job_id, _, step = parse_job_id(job_field)
        if step is None:
            jobs.setdefault(name, set()).add(job_id)
    return jobs
