"""What the cluster benchmarks share: a job-user work directory with a synthetic DL0 tree and a
trivial-payload environment, production copies that fit this node, and Slurm's own records
(sacct for job times, sdiag for controller RPCs), read as root with the cluster's SLURM_CONF.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from support.stub_env import OUTPUT_WRITING_LINES, stub_names, write_stub_env

from benchmarks.libraries import Template, build_dl0, copy_production
from benchmarks.lstmcpipe_venv import ensure_venv
from lstflow.config.yaml_loader import parse_yaml
from lstflow_dev import localcluster

#: Every lstchain/lstmcpipe tool and ``python`` become ``exit 0`` in the trivial environment.
STUB_TOOL_PATTERNS = ("lstchain_*", "lstmcpipe*")
MEMORY = re.compile(r"^(?P<number>\d+)\s*(?P<unit>[KMGT])B?$", re.IGNORECASE)


def fit_memory(value: str) -> str:
    """lstmcpipe's 6GB..160G become distinct few-hundred-MB requests this node can grant."""
    match = MEMORY.match(str(value))
    if match is None:
        return str(value)
    return f"{100 + int(match['number'])}M"


def fit_options(options: dict[str, Any] | None, extra: dict[str, str]) -> dict[str, str]:
    fitted = {str(key): str(value) for key, value in (options or {}).items()}
    if "mem" in fitted:
        fitted["mem"] = fit_memory(fitted["mem"])
    if "cpus-per-task" in fitted:
        fitted["cpus-per-task"] = "1"
    return {**fitted, **extra}


@dataclass
class ClusterWorkspace:
    """One benchmark's directory on the cluster's filesystem, owned by the job user."""

    root: Path
    user: str
    slurm_conf: str
    #: Tool name -> sh body replacing its ``exit 0`` stub (e.g. a training that sleeps).
    payloads: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, name: str) -> ClusterWorkspace:
        info = localcluster.up()
        os.environ["AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM"] = info.connection_json
        return cls(localcluster.make_workdir(f"bench-{name}"), info.user, info.slurm_conf)

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def stubs(self) -> Path:
        return self.root / "stubs"

    def make_trivial_env(self) -> Path:
        """A ``source_file`` whose tools succeed at once, writing the outputs their tool would
        (``OUTPUT_WRITING_LINES``: each stage plans from inputs that exist, #17's input check),
        those in ``payloads`` then running their body; and a no-op ``conda``.

        ``source`` and ``conda`` are stubbed too: sbatch --wrap runs /bin/sh, which is dash on
        Debian and has no ``source`` builtin; lstmcpipe's jobs find the stubs on the PATH sbatch
        exports.
        """
        bin_dirs = (Path(sys.prefix) / "bin", ensure_venv())
        names = stub_names(bin_dirs, STUB_TOOL_PATTERNS) | {"source", "conda"}
        env_file = write_stub_env(self.root, names, OUTPUT_WRITING_LINES)
        for name, body in self.payloads.items():
            stub = self.stubs / name
            stub.write_text("#!/bin/sh\n" + OUTPUT_WRITING_LINES + body)
            stub.chmod(0o755)
        return env_file

    def production(self, template: Template, prod_id: str, extra_options: dict[str, str]) -> Path:
        """A copy of ``template`` on this workspace's DL0 tree, resources fitted to the node,
        ``extra_options`` added to every entry and the trivial environment as its source."""
        build_dl0(self.data_root, template)
        directory = self.root / "configs" / prod_id
        path = copy_production(template, directory, prod_id, str(self.data_root), {})
        raw = parse_yaml(path, path.read_bytes())
        raw["source_environment"] = {
            "source_file": str(self.make_trivial_env()),
            "conda_env": "trivial",  # lstmcpipe always runs `conda activate`: a no-op here
        }
        for entries in raw["stages"].values():
            for entry in entries:
                entry["extra_slurm_options"] = fit_options(
                    entry.get("extra_slurm_options"), extra_options
                )
        path.write_text(yaml.safe_dump(raw, sort_keys=False, width=10_000))
        return path

    def give_to_user(self) -> None:
        subprocess.run(["chown", "-R", f"{self.user}:", str(self.root)], check=True)

    def remove(self) -> None:
        localcluster.remove_workdir(self.root)

    # ---- Slurm's records -------------------------------------------------------------------

    def slurm(self, *argv: str, timeout: float = 600) -> str:
        env = {**os.environ, "SLURM_CONF": self.slurm_conf}
        done = subprocess.run(
            list(argv), env=env, capture_output=True, text=True, timeout=timeout, check=True
        )
        return done.stdout

    def cancel(self, job_ids: list[str]) -> None:
        for start in range(0, len(job_ids), 500):
            self.slurm("scancel", *job_ids[start : start + 500])

    def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]:
        """One sacct row per job (array elements included), with datetimes."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(job_ids), 200):
            chunk = ",".join(job_ids[start : start + 200])
            fields = "JobID,JobName,State,Submit,Start,End"
            output = self.slurm("sacct", "-X", "-n", "-P", f"--format={fields}", "-j", chunk)
            for line in output.splitlines():
                job_id, name, state, submit, begin, end = line.split("|")
                rows.append(
                    {
                        "job_id": job_id,
                        "name": name,
                        "state": state,
                        "submit": _time(submit),
                        "start": _time(begin),
                        "end": _time(end),
                    }
                )
        return rows

    def jobs_named(self, prefix: str, since: datetime) -> list[dict[str, Any]]:
        """The job user's jobs submitted since ``since`` whose name starts with ``prefix``."""
        output = self.slurm(
            "sacct",
            "-X",
            "-n",
            "-P",
            "--format=JobID,JobName",
            "-u",
            self.user,
            "--starttime",
            since.strftime("%Y-%m-%dT%H:%M:%S"),
        )
        ids = [
            line.split("|")[0]
            for line in output.splitlines()
            if line.split("|")[1].startswith(prefix)
        ]
        return self.jobs(ids)

    def rpc_counts(self) -> Counter[str]:
        """slurmctld's RPC counters by message type (``sdiag``; cumulative since its start)."""
        counts: Counter[str] = Counter()
        section = False
        for line in self.slurm("sdiag").splitlines():
            if line.startswith("Remote Procedure Call statistics by message type"):
                section = True
            elif line.startswith("Remote Procedure Call statistics by user"):
                break
            elif section and "count:" in line:
                name = line.split()[0]
                counts[name] = int(line.split("count:")[1].split()[0])
        return counts


def rpc_delta(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # "Unknown", "None"
        return None


def stage_transitions(
    jobs: list[dict[str, Any]], stage_of: dict[str, str], order: tuple[str, ...]
) -> dict[str, float]:
    """Seconds from the last element of a stage ending to the first of the next one starting.

    ``stage_of`` maps a job's name to its stage; jobs of other names are ignored.
    """
    ends: dict[str, datetime] = {}
    starts: dict[str, datetime] = {}
    for row in jobs:
        stage = stage_of.get(row["name"])
        if stage is None or row["start"] is None or row["end"] is None:
            continue
        ends[stage] = max(ends.get(stage, row["end"]), row["end"])
        starts[stage] = min(starts.get(stage, row["start"]), row["start"])
    present = [stage for stage in order if stage in starts]
    return {
        f"{before}->{after}": (starts[after] - ends[before]).total_seconds()
        for before, after in itertools.pairwise(present)
    }
