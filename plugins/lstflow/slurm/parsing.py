"""Parsers for the text Slurm's client commands print. Pure functions, no I/O.

Formats (measured on Slurm 22.05, see the local-cluster reference):

- ``squeue -h -t all -r -o '%i|%T|%r'``: ``123_4|FAILED|NonZeroExitCode``; a throttled pending
  remainder may still appear folded as ``123_[4-9%2]|PENDING|JobArrayTaskLimit``.
- ``sacct [-X] --parsable2 --noheader -o JobID,JobName,CPUTime,CPUTimeRAW,Elapsed,TotalCPU,
  MaxRSS,State,ExitCode``: ``123_4|n|00:00:06|6|00:00:03|00:01.2||CANCELLED by 1001|0:0``,
  ``123_[0-3]|n|00:00:00|0|00:00:00|00:00:00||PENDING|0:0`` while pending, ``124|...`` for a
  plain job; without ``-X`` also the steps (``123_4.batch|batch|...|10240K|COMPLETED|0:0``),
  which alone carry MaxRSS.
- ``sbatch --parsable``: ``123`` or ``123;cluster``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from lstflow.slurm.elements import ElementId, ElementStatus, SlurmOutputError, parse_job_id
from lstflow.slurm.states import parse_state

SQUEUE_FORMAT = "%i|%T|%r"
#: lstosa's sacct fields (its closer writes job_information.csv from them), in this order.
SACCT_FIELDS = (
    "JobID",
    "JobName",
    "CPUTime",
    "CPUTimeRAW",
    "Elapsed",
    "TotalCPU",
    "MaxRSS",
    "State",
    "ExitCode",
)

_NO_ELEMENT = ElementId("0")
_RSS = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[KMGTP]?)$")
_RSS_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


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


@dataclass(frozen=True)
class SacctRow:
    """One sacct row as printed (``SACCT_FIELDS``), with the array elements an allocation row
    stands for (a pending ``123_[0-3]`` stands for four; a step row ``123_4.batch`` for none)."""

    job_id: str
    name: str
    cpu_time: str
    cpu_seconds: int
    elapsed: str
    total_cpu: str
    max_rss: str
    state: str
    exit_code: str
    elements: tuple[ElementId, ...]
    step: str | None

    @property
    def folded(self) -> bool:
        """True for a pending remainder's row (``123_[0-3]``), which may still name elements
        that have since got rows of their own."""
        return "_[" in self.job_id

    def values(self) -> tuple[str, ...]:
        """The row in ``SACCT_FIELDS`` order, as sacct printed it."""
        return (
            self.job_id,
            self.name,
            self.cpu_time,
            str(self.cpu_seconds),
            self.elapsed,
            self.total_cpu,
            self.max_rss,
            self.state,
            self.exit_code,
        )


def parse_sacct_rows(text: str) -> list[SacctRow]:
    """Every row of ``sacct [-X] --parsable2 --noheader -o <SACCT_FIELDS>``, steps included."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        job_field, name, cpu_time, cpu_raw, elapsed, total_cpu, max_rss, state, exit_code = _split(
            line, len(SACCT_FIELDS), "sacct"
        )
        if not cpu_raw.isdigit():
            raise SlurmOutputError(f"sacct printed CPUTimeRAW {cpu_raw!r} in {line!r}")
        job_id, indices, step = parse_job_id(job_field)
        elements = () if step or indices is None else tuple(ElementId(job_id, i) for i in indices)
        rows.append(
            SacctRow(
                job_field,
                name,
                cpu_time,
                int(cpu_raw),
                elapsed,
                total_cpu,
                max_rss,
                state,
                exit_code,
                elements,
                step,
            )
        )
    return rows


def parse_sacct(text: str) -> list[ElementStatus]:
    """One status per element of ``sacct [-X] ... -o <SACCT_FIELDS>``, from its allocation
    row; step rows (only without ``-X``) add the element's largest MaxRSS (sacct measures
    memory on steps only).

    An element's own row wins over a folded one: slurmdbd does not always narrow the pending
    remainder's range when an element is split out of it. Measured on 22.05: ``aftercorr``
    split out element 0 (``12_0|COMPLETED``), then the cancelled remainder was still accounted
    as ``12_[0-1]|CANCELLED``; read in print order, element 0 would have been CANCELLED."""
    statuses: dict[ElementId, ElementStatus] = {}
    step_rss: dict[ElementId, int] = {}
    own_rows: set[ElementId] = set()
    for row in parse_sacct_rows(text):
        if row.step is not None:
            job_id, indices, _ = parse_job_id(row.job_id)
            element = ElementId(job_id, (indices or [None])[0])
            rss = rss_bytes(row.max_rss)
            if rss is not None and rss > step_rss.get(element, -1):
                step_rss[element] = rss
            continue
        try:
            state, cancelled_by = parse_state(row.state)
        except ValueError as error:
            raise SlurmOutputError(str(error)) from None
        exit_code, signal = parse_exit_code(row.exit_code)
        folded = row.folded
        for element in row.elements:
            if folded and element in own_rows:
                continue
            if not folded:
                own_rows.add(element)
            statuses[element] = ElementStatus(
                element,
                state,
                None,
                exit_code,
                signal,
                cancelled_by,
                from_accounting=True,
                elapsed_s=elapsed_seconds(row.elapsed),
                max_rss_bytes=rss_bytes(row.max_rss),
                job_name=row.name,
                cpu_seconds=row.cpu_seconds,
            )
    for element, rss in step_rss.items():
        allocation = statuses.get(element)
        if allocation is not None and (allocation.max_rss_bytes or -1) < rss:
            statuses[element] = replace(allocation, max_rss_bytes=rss)
    return list(statuses.values())


def elapsed_seconds(text: str) -> float | None:
    """sacct's ``Elapsed``: ``[D-]HH:MM:SS``, ``MM:SS`` or ``MM:SS.mmm``."""
    text = text.strip()
    if not text or text in {"INVALID", "UNLIMITED"}:
        return None
    days = 0
    if "-" in text:
        day_text, text = text.split("-", 1)
        days = int(day_text)
    seconds = 0.0
    try:
        for part in text.split(":"):
            seconds = seconds * 60 + float(part)
    except ValueError:
        raise SlurmOutputError(f"cannot read sacct Elapsed {text!r}") from None
    return days * 86400 + seconds


def rss_bytes(text: str) -> int | None:
    """sacct's ``MaxRSS`` (``1234K``, ``1.50G``, ``0``) in bytes; empty means not measured."""
    match = _RSS.match(text.strip())
    if match is None:
        return None
    return int(float(match["number"]) * _RSS_UNITS[match["unit"]])


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
