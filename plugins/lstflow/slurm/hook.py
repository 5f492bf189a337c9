"""``SlurmHook``: Slurm's client commands over an Airflow SSH connection (files: ``ClusterFiles``).

Built on the SSH provider's ``SSHHook`` (paramiko, one cached client, host keys verified from
the connection's ``host_key`` extra or known_hosts). Every command is an argv joined with
``shlex.join``, or a fixed shell snippet whose only variable parts are quoted, so no value from
a config can reach the shell unquoted.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.providers.ssh.hooks.ssh import SSHHook
from airflow.sdk import BaseHook
from paramiko.ssh_exception import SSHException

from lstflow.slurm.elements import ElementId, ElementStatus, SlurmOutputError
from lstflow.slurm.parsing import (
    SACCT_FIELDS,
    SacctRow,
    parse_named_jobs,
    parse_sacct,
    parse_sacct_rows,
    parse_sbatch_parsable,
    parse_scontrol_config,
    parse_squeue,
)
from lstflow.slurm.slurm_argv import (
    CommandResult,
    SbatchRequest,
    SlurmCommandError,
    find_jobs_commands,
    sacct_status_argv,
    sacct_usage_argv,
    squeue_forgot_all,
    squeue_status_argv,
)

DEFAULT_CONN_ID = "lstflow_local_slurm"
# How far back sacct looks for jobs by name: a little beyond the task state store's retention.
JOB_LOOKBACK = timedelta(days=31)


@dataclass(frozen=True)
class ClusterLimits:
    """The slurmctld settings the Slurm layer adapts to (``scontrol show config``)."""

    max_array_size: int
    min_job_age: int

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> ClusterLimits:
        def number(key: str, default: int) -> int:
            value = config.get(key, "").split(" ", 1)[0]  # "300 sec" in some versions
            return int(value) if value.isdigit() else default

        return cls(number("MaxArraySize", 1001), number("MinJobAge", 300))


_LIMITS_CACHE: dict[str, ClusterLimits] = {}
#: Seconds for the cluster's sshd to open a channel before lstflow reconnects once.
CHANNEL_OPEN_TIMEOUT = 30.0
#: The SSH user's pending jobs, one line per array element (-r), counted on the cluster.
_PENDING_COUNT = "squeue --me --noheader --array --states=PENDING --format=. | wc -l"


class SlurmHook(BaseHook):
    """Submit, query and cancel Slurm jobs over SSH; ``run``/``check`` for ``ClusterFiles``."""

    conn_name_attr = "ssh_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "slurm"
    hook_name = "Slurm (lstflow)"

    def __init__(self, ssh_conn_id: str = DEFAULT_CONN_ID, command_timeout: float = 120.0) -> None:
        super().__init__()
        self.ssh_conn_id = ssh_conn_id
        self.command_timeout = command_timeout

    @cached_property
    def ssh_hook(self) -> SSHHook:
        hook = SSHHook(ssh_conn_id=self.ssh_conn_id, cmd_timeout=self.command_timeout)
        if hook.no_host_key_check or hook.allow_host_key_change:
            raise ValueError(
                f"Airflow connection {self.ssh_conn_id!r} turns SSH host key verification off "
                "(no_host_key_check or allow_host_key_change): lstflow never talks to a cluster "
                "it cannot identify. Remove those extras and set 'host_key' to the cluster's "
                "public host key ('ssh-ed25519 AAAA...', from ssh-keyscan checked out of band)."
            )
        return hook

    def get_conn(self) -> Any:
        return self.ssh_hook.get_conn()

    # ---- running commands ------------------------------------------------------------------

    def run(self, command: Sequence[str] | str, *, stdin: bytes | None = None) -> CommandResult:
        """Run an argv (quoted here) or a prepared shell snippet; return its exit and output."""
        text = command if isinstance(command, str) else shlex.join(command)
        channel = self._open_session()
        channel.settimeout(self.command_timeout)
        channel.exec_command(text)
        channel_in = channel.makefile_stdin("wb")
        channel_out = channel.makefile("r")
        channel_err = channel.makefile_stderr("r")
        writer = threading.Thread(target=_feed, args=(channel_in, stdin), daemon=True)
        writer.start()
        stdout = channel_out.read()
        stderr = channel_err.read()
        writer.join()
        status = channel_out.channel.recv_exit_status()
        return CommandResult(
            text, status, stdout.decode(errors="replace"), stderr.decode(errors="replace")
        )

    def _open_session(self) -> Any:
        """A session channel; if the server does not open one in time (a loaded or restarted
        sshd), once more on a new connection. Nothing ran yet, so trying again is safe."""
        try:
            return self.get_conn().get_transport().open_session(timeout=CHANNEL_OPEN_TIMEOUT)
        except (SSHException, OSError, EOFError) as error:
            self.log.warning("SSH: no channel from the cluster (%s); reconnecting once", error)
            if self.ssh_hook.client is not None:
                self.ssh_hook.client.close()
                self.ssh_hook.client = None
            return self.get_conn().get_transport().open_session(timeout=CHANNEL_OPEN_TIMEOUT)

    def check(self, command: Sequence[str] | str, *, stdin: bytes | None = None) -> CommandResult:
        """``run`` that raises ``SlurmCommandError`` unless the command exits 0."""
        return self.run(command, stdin=stdin).raise_for_status()

    # ---- cluster ---------------------------------------------------------------------------

    def cluster_limits(self) -> ClusterLimits:
        """MaxArraySize and MinJobAge, read once per connection and process."""
        if self.ssh_conn_id not in _LIMITS_CACHE:
            output = self.check(["scontrol", "show", "config"]).stdout
            _LIMITS_CACHE[self.ssh_conn_id] = ClusterLimits.from_config(
                parse_scontrol_config(output)
            )
        return _LIMITS_CACHE[self.ssh_conn_id]

    def submit(self, request: SbatchRequest) -> str:
        """``sbatch --parsable`` a job array; returns its job id."""
        return parse_sbatch_parsable(self.check(request.argv()).stdout)

    def cancel(self, job_ids: Sequence[str]) -> None:
        if job_ids:
            self.check(["scancel", *job_ids])

    def pending_jobs(self) -> int:
        """How many jobs (array elements counted one by one) of the SSH user are pending; the
        count is made on the cluster, so the output is one number whatever the queue holds."""
        return int(self.check(_PENDING_COUNT).stdout.strip() or 0)

    def find_jobs(self, job_names: Sequence[str]) -> dict[str, set[str]]:
        """Job ids by exact job name, from the controller and from accounting (one call)."""
        if not job_names:
            return {}
        since = (datetime.now(UTC) - JOB_LOOKBACK).strftime("%Y-%m-%dT%H:%M:%S")
        result = self.check(find_jobs_commands(job_names, since))
        return parse_named_jobs(result.stdout)

    # ---- element states and usage ---------------------------------------------------------

    def element_states(self, job_ids: Sequence[str]) -> dict[ElementId, ElementStatus]:
        """State and exit code of every element of ``job_ids`` sacct knows, in one call."""
        if not job_ids:
            return {}
        rows = parse_sacct(self.check(sacct_status_argv(job_ids)).stdout)
        return {row.element: row for row in rows}

    def job_elements(self, job_ids: Sequence[str]) -> dict[ElementId, ElementStatus]:
        """Every element of ``job_ids`` with its state: the controller's view (squeue, pending
        arrays expanded) for the jobs it holds, accounting (sacct) for the others."""
        if not job_ids:
            return {}
        live = self.run(squeue_status_argv(job_ids))
        if live.exit_status != 0 and not squeue_forgot_all(live):
            raise SlurmCommandError(live)
        rows = {s.element: s for s in parse_squeue(live.stdout)} if live.exit_status == 0 else {}
        forgotten = sorted(set(job_ids) - {element.job_id for element in rows})
        return {**self.element_states(forgotten), **rows}

    def element_usage(self, job_ids: Sequence[str]) -> dict[ElementId, ElementStatus]:
        """``element_states`` plus Elapsed, CPU time and the largest MaxRSS of its steps."""
        if not job_ids:
            return {}
        rows = parse_sacct(self.check(sacct_usage_argv(job_ids)).stdout)
        return {row.element: row for row in rows}

    def accounting_rows(self, job_ids: Sequence[str], units: str = "G") -> list[SacctRow]:
        """Every sacct row (allocations and steps) of ``job_ids``, as printed: lstosa's
        ``job_information.csv`` is made of these."""
        if not job_ids:
            return []
        return parse_sacct_rows(self.check(sacct_usage_argv(job_ids, units)).stdout)


def _feed(channel_in: Any, data: bytes | None) -> None:
    """Write stdin in a thread so a command that answers while reading cannot deadlock us."""
    try:
        if data:
            channel_in.write(data)
    finally:
        channel_in.channel.shutdown_write()


__all__ = [
    "DEFAULT_CONN_ID",
    "SACCT_FIELDS",
    "ClusterLimits",
    "CommandResult",
    "ElementId",
    "ElementStatus",
    "SacctRow",
    "SbatchRequest",
    "SlurmCommandError",
    "SlurmHook",
    "SlurmOutputError",
]
