"""Array elements as the Slurm layer reports them: their ids, states, exit codes and usage.

Part of the Slurm layer's public surface: the hook's ``element_states``/``element_usage``, the
sensor and the operators' reports speak in these types, so no reader parses Slurm's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lstflow.slurm.states import SlurmState, is_finished

_JOB_ID = re.compile(r"^(?P<job>\d+)(?:_(?P<index>\d+|\[(?P<ranges>[^\]]*)\]))?(?P<step>\..+)?$")


class SlurmOutputError(ValueError):
    """Slurm printed something lstflow cannot read; never guessed around."""


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
    """What Slurm says about one element; the usage fields (elapsed, peak memory, job name,
    allocated CPU time) come from sacct only."""

    element: ElementId
    state: SlurmState
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    cancelled_by: str | None = None
    from_accounting: bool = False  # a sacct row: the controller has forgotten the job
    elapsed_s: float | None = None
    max_rss_bytes: int | None = None
    job_name: str | None = None
    cpu_seconds: int | None = None

    @property
    def finished(self) -> bool:
        return is_finished(self.state, from_accounting=self.from_accounting)

    @property
    def needs_accounting(self) -> bool:
        """A failure whose exit code or canceller only sacct can tell."""
        return self.finished and self.state is not SlurmState.COMPLETED and self.exit_code is None

    @property
    def failed(self) -> bool:
        return self.finished and self.state is not SlurmState.COMPLETED
