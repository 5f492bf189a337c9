"""The contract between planners and the Slurm layer.

Planners (MC stages, the night planner) turn configs into ``WorkItem``s; the Slurm layer turns
work items into job arrays. Neither side imports the other: both import only this module, which
imports nothing of Airflow, lstchain or Slurm.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

# sbatch options lstflow sets on every submission itself; resources never carry them.
RESERVED_OPTIONS = frozenset(
    {"array", "job-name", "comment", "chdir", "output", "error", "parsable", "wrap"}
)


@dataclass(frozen=True)
class Resources:
    """Slurm resources of one work item; ``None`` means "the cluster's default".

    ``extra`` holds ``--key=value`` options applied last, so a config's ``extra_slurm_options``
    can override anything a planner set (lstmcpipe's precedence).
    """

    partition: str | None = None
    mem: str | None = None
    time: str | None = None
    cpus_per_task: int | None = None
    account: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def sbatch_options(self) -> list[tuple[str, str]]:
        """Options as ``(long_name, value)`` pairs, later pairs overriding earlier ones."""
        pairs: list[tuple[str, str]] = []
        for name, value in (
            ("partition", self.partition),
            ("mem", self.mem),
            ("time", self.time),
            ("cpus-per-task", None if self.cpus_per_task is None else str(self.cpus_per_task)),
            ("account", self.account or None),  # never an empty --account=
        ):
            if value is not None:
                pairs.append((name, value))
        merged = dict(pairs)
        merged.update(self.extra)
        return list(merged.items())

    def with_overrides(self, **changes: Any) -> Resources:
        return replace(self, **changes)


@dataclass(frozen=True)
class WorkItem:
    """One element of a job array: a command line plus what it needs and produces.

    ``argv`` is never joined into a shell string by planners; the Slurm layer quotes every
    argument, so no config value can inject shell. ``resource_sources`` says where each sbatch
    option of ``resources`` came from (``(option, source)``), for ``lstflow plan --json``.
    """

    key: str
    argv: tuple[str, ...]
    resources: Resources = field(default_factory=Resources)
    outputs: tuple[str, ...] = ()
    description: str = ""
    resource_sources: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only (lists, not tuples): the task state store accepts no others."""
        result: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return result

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkItem:
        resources = dict(data.get("resources") or {})
        resources["extra"] = tuple(tuple(pair) for pair in resources.get("extra", ()))
        return cls(
            key=str(data["key"]),
            argv=tuple(data["argv"]),
            resources=Resources(**resources),
            outputs=tuple(data.get("outputs", ())),
            description=str(data.get("description", "")),
            resource_sources=tuple(
                (str(name), str(source)) for name, source in data.get("resource_sources", ())
            ),
        )


@dataclass(frozen=True)
class ArraySpec:
    """Everything the Slurm layer needs to run a list of work items as job arrays.

    ``prologue`` lines (each an argv, e.g. ``("source", "/env/bin/activate")``) run before every
    element: this is how a production's ``source_environment`` reaches its jobs.
    """

    name: str
    items: tuple[WorkItem, ...]
    log_dir: str
    workdir: str
    prologue: tuple[tuple[str, ...], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    throttle: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only (lists, not tuples): the task state store accepts no others."""
        result: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return result

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArraySpec:
        return cls(
            name=str(data["name"]),
            items=tuple(WorkItem.from_json(item) for item in data["items"]),
            log_dir=str(data["log_dir"]),
            workdir=str(data["workdir"]),
            prologue=tuple(tuple(line) for line in data.get("prologue", ())),
            env=tuple((str(k), str(v)) for k, v in data.get("env", ())),
            throttle=data.get("throttle"),
        )

    def fingerprint(self) -> str:
        """A stable hash of the work: the same spec always gives the same fingerprint."""
        payload = json.dumps(asdict(self), sort_keys=True, default=list).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


def array_groups(items: Sequence[WorkItem], max_array_size: int) -> list[tuple[int, ...]]:
    """Positions of ``items`` per job array: equal resources share an array, chunked to the
    cluster's MaxArraySize.

    The one grouping: ``ArrayPlan.create`` submits exactly these arrays and ``lstflow plan``
    prints them. It is the whole submission-count budget of a stage: one sbatch per distinct
    resource set per ``max_array_size`` elements, whatever the number of entries.
    """
    groups: dict[Resources, list[int]] = {}
    for number, item in enumerate(items):
        groups.setdefault(item.resources, []).append(number)
    return [
        tuple(group[start : start + max_array_size])
        for group in groups.values()
        for start in range(0, len(group), max_array_size)
    ]
