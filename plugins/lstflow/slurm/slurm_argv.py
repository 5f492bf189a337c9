"""The Slurm command lines lstflow runs, built as argv lists (quoted only by ``shlex.join``).

Shared by the synchronous hook (worker side) and the asynchronous poller (triggerer side), so
both speak to the cluster with exactly the same commands.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from lstflow.slurm.parsing import SACCT_FIELDS, SQUEUE_FORMAT
from lstflow.workitems import RESERVED_OPTIONS

_OPTION_NAME = re.compile(r"[a-z][a-z0-9-]*")
_PURGED = "Invalid job id specified"


class SlurmCommandError(RuntimeError):
    """A Slurm command failed; carries the command line and its stderr for the task log."""

    def __init__(self, result: CommandResult) -> None:
        self.result = result
        stderr = result.stderr.strip() or "(no stderr)"
        super().__init__(f"`{result.command}` exited {result.exit_status}: {stderr}")


@dataclass(frozen=True)
class CommandResult:
    command: str
    exit_status: int
    stdout: str
    stderr: str

    def raise_for_status(self) -> CommandResult:
        if self.exit_status != 0:
            raise SlurmCommandError(self)
        return self


@dataclass(frozen=True)
class SbatchRequest:
    """One ``sbatch --parsable`` of a job array script: what ``SlurmHook.submit`` runs."""

    script_path: str
    array: str
    options: tuple[tuple[str, str], ...]
    job_name: str
    comment: str
    workdir: str
    output: str
    error: str

    def argv(self) -> list[str]:
        """Resources first and lstflow's own options last (they win)."""
        argv = ["sbatch", "--parsable"]
        for name, value in self.options:
            if not _OPTION_NAME.fullmatch(name) or name in RESERVED_OPTIONS:
                raise ValueError(
                    f"sbatch option {name!r} cannot be set from resources; use a plain long "
                    f"option name other than {', '.join(sorted(RESERVED_OPTIONS))}"
                )
            argv.append(f"--{name}={value}")
        argv += [
            f"--array={self.array}",
            f"--job-name={self.job_name}",
            f"--comment={self.comment}",
            f"--chdir={self.workdir}",
            f"--output={self.output}",
            f"--error={self.error}",
            self.script_path,
        ]
        return argv


def squeue_status_argv(job_ids: Sequence[str]) -> list[str]:
    """Every element of ``job_ids`` the controller still knows, pending ones expanded."""
    return ["squeue", "-h", "-t", "all", "-r", "-j", ",".join(job_ids), "-o", SQUEUE_FORMAT]


def sacct_status_argv(job_ids: Sequence[str]) -> list[str]:
    """Allocation rows only (``-X``): states and exit codes, one row per element."""
    fields = ",".join(SACCT_FIELDS)
    return ["sacct", "-X", "--parsable2", "--noheader", "-j", ",".join(job_ids), "-o", fields]


def sacct_usage_argv(job_ids: Sequence[str], units: str | None = None) -> list[str]:
    """The same fields with the steps, which alone carry MaxRSS; ``units`` (``G``: lstosa's
    job_information.csv) scales the memory columns."""
    argv = ["sacct", "--parsable2", "--noheader", *([f"--units={units}"] if units else [])]
    return [*argv, "-j", ",".join(job_ids), "-o", ",".join(SACCT_FIELDS)]


def squeue_forgot_all(result: CommandResult) -> bool:
    """squeue exits 1 when *every* requested job is purged (past MinJobAge); that is an answer."""
    return result.exit_status == 1 and _PURGED in result.stderr


def find_jobs_commands(job_names: Sequence[str] | None, since: str) -> str:
    """One shell line printing ``name|array job id`` for our jobs, from squeue then sacct.

    ``job_names`` ``None`` lists every job of the SSH user (for counting by tag prefix).
    """
    squeue = ["squeue", "--me", "-h", "-t", "all", "-o", "%j|%F"]
    sacct = [
        "sacct",
        "-X",
        "--parsable2",
        "--noheader",
        "-o",
        "JobName,JobID",
        f"--starttime={since}",
    ]
    if job_names is not None:
        squeue += ["-n", ",".join(job_names)]
        sacct += [f"--name={','.join(job_names)}"]
    return f"{shlex.join(squeue)} && {shlex.join(sacct)}"
