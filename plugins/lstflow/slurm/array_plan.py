"""The life of an ``ArraySpec`` on the cluster: which chunk script each item lives in, which job
runs it now, how many attempts it had and how it ended.

The plan is plain JSON so it can live in the task state store: it is what lets a retried task
re-attach to running jobs, and what the policy reads to resubmit only the failed elements.
Everything here is pure; the operator does the I/O.

The spec and the plan go into the store compressed (``stored_value``: zlib, then base64 text),
so they fit any Airflow metadata DB: a 20,000-entry stage (``lstflow.config``'s entry limit),
about 700 bytes per entry as JSON, is stored in well under 1 MB, and nothing over
``MAX_STORED_BYTES`` is ever written (MySQL's MEDIUMTEXT column holds 16 MiB).
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.policy import RetryPolicy
from lstflow.slurm.states import SlurmState
from lstflow.workitems import ArraySpec, Resources, WorkItem, array_groups

#: Task-state-store keys of stored plans: this prefix plus the spec's fingerprint.
PLAN_KEY_PREFIX = "lstflow.slurm.plan."
#: Task-state-store key of the spec a task planned (the plan lives under ``plan_key(spec)``).
SPEC_KEY = "lstflow.slurm.spec"
#: Task-state-store key of the generation the stored spec and plans belong to.
GENERATION_KEY = "lstflow.slurm.generation"
#: How a compressed stored value starts (values stored before compression are plain JSON).
COMPRESSED_PREFIX = "zlib+base64:"
#: The most one stored value may weigh: half of MySQL's MEDIUMTEXT, the smallest metadata DB.
MAX_STORED_BYTES = 8 * 1024 * 1024


class StoredValueTooLarge(ValueError):
    """A spec or plan that would not fit the task state store even compressed."""


def stored_value(data: dict[str, Any], what: str) -> str:
    """``data`` (a ``to_json``) as the compressed text the task state store keeps."""
    packed = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)
    value = COMPRESSED_PREFIX + base64.b64encode(packed).decode("ascii")
    if len(value) > MAX_STORED_BYTES:
        raise StoredValueTooLarge(
            f"{what}: {len(value):,} bytes compressed, more than the {MAX_STORED_BYTES:,} the "
            "task state store may hold; split the stage's entries over several productions"
        )
    return value


def _loaded(value: dict[str, Any] | str) -> dict[str, Any]:
    """A stored value back as JSON data: compressed text, JSON text or decoded JSON.

    The metadata DB's JSON column gives a compressed value back as JSON text (a quoted string)
    to a reader of the table, and as the string itself to the task state store's API.
    """
    decoded: Any = value
    if isinstance(decoded, str) and not decoded.startswith(COMPRESSED_PREFIX):
        decoded = json.loads(decoded)
    if isinstance(decoded, str) and decoded.startswith(COMPRESSED_PREFIX):
        packed = base64.b64decode(decoded[len(COMPRESSED_PREFIX) :])
        decoded = json.loads(zlib.decompress(packed).decode())
    if not isinstance(decoded, dict):
        raise ValueError(f"not a stored lstflow spec or plan: {str(value)[:80]!r}")
    return decoded


@dataclass(frozen=True)
class RunIdentity:
    """Which Airflow task instance owns the jobs: becomes the job name and comment tags."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    try_number: int = 1
    #: Which clear of the task instance this is (``lstflow.slurm.operator.task_generation``): a
    #: cleared task submits anew instead of adopting the jobs of the run it replaces.
    generation: int = 1

    @property
    def job_name_prefix(self) -> str:
        return f"lstflow.{self.dag_id}.{self.task_id}"

    def token(self, *parts: object) -> str:
        """A submission token that is the same for the same work in any try of this instance."""
        payload = "\0".join(
            str(part)
            for part in (
                self.dag_id,
                self.run_id,
                self.task_id,
                self.map_index,
                self.generation,
                *parts,
            )
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass
class Element:
    """One work item across its attempts; ``job_id`` is the array job of the current attempt."""

    item: int
    chunk: int
    array_index: int
    resources: Resources
    attempts: int = 0
    job_id: str | None = None
    state: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    cancelled_by: str | None = None
    note: str = ""
    final: bool = False
    submitted_in_try: int = 1

    @property
    def element_id(self) -> ElementId | None:
        return None if self.job_id is None else ElementId(self.job_id, self.array_index)

    @property
    def succeeded(self) -> bool:
        return self.final and self.state == SlurmState.COMPLETED

    @property
    def needs_submission(self) -> bool:
        return not self.final and self.job_id is None


@dataclass(frozen=True)
class Submission:
    """One ``sbatch`` call: some elements of one chunk, sharing their resources."""

    chunk: int
    resources: Resources
    array_indices: tuple[int, ...]
    job_name: str
    token: str

    def array_option(self, throttle: int | None) -> str:
        return compact_indices(self.array_indices) + (f"%{throttle}" if throttle else "")


@dataclass
class ArrayPlan:
    fingerprint: str
    chunk_scripts: list[str]
    elements: list[Element]
    round: int = 0
    job_ids: list[str] = field(default_factory=list)
    submitting: bool = False  # a round's sbatch calls started and may not all be recorded
    task_try: int = 1  # how many Airflow tries have worked on this plan

    # ---- construction and persistence -------------------------------------------------------

    @classmethod
    def create(cls, spec: ArraySpec, max_array_size: int) -> ArrayPlan:
        """One chunk script per ``array_groups`` group (what ``lstflow plan`` prints)."""
        if not spec.items:
            raise ValueError(f"array {spec.name!r} has no work items")
        fingerprint = spec.fingerprint()
        elements: list[Element] = []
        scripts: list[str] = []
        for chunk, numbers in enumerate(array_groups(spec.items, max_array_size)):
            scripts.append(f"{spec.log_dir}/{spec.name}_{fingerprint}_{chunk}.sbatch")
            for array_index, number in enumerate(numbers):
                elements.append(Element(number, chunk, array_index, spec.items[number].resources))
        return cls(fingerprint, scripts, elements)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only (tuples become lists): the state store validates values."""
        data: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArrayPlan:
        """The plan ``to_json`` stored (what ``read_plan`` gives readers outside the layer)."""
        elements = []
        for raw in data["elements"]:
            values = dict(raw)
            resources = dict(values.pop("resources"))
            resources["extra"] = tuple(tuple(pair) for pair in resources.get("extra", ()))
            elements.append(Element(resources=Resources(**resources), **values))
        return cls(
            fingerprint=data["fingerprint"],
            chunk_scripts=list(data["chunk_scripts"]),
            elements=elements,
            round=int(data["round"]),
            job_ids=list(data.get("job_ids", [])),
            submitting=bool(data.get("submitting", False)),
            task_try=int(data.get("task_try", 1)),
        )

    # ---- queries ---------------------------------------------------------------------------

    def chunk_items(self, spec: ArraySpec, chunk: int) -> list[WorkItem]:
        return [spec.items[e.item] for e in self.elements if e.chunk == chunk]

    def watched(self) -> list[Element]:
        """Elements submitted and not yet final: what the trigger waits for."""
        return [e for e in self.elements if not e.final and e.job_id is not None]

    def watch_list(self) -> dict[str, list[int | None]]:
        """``{array job id: [array indices]}`` of the watched elements."""
        jobs: dict[str, list[int | None]] = {}
        for element in self.watched():
            assert element.job_id is not None
            jobs.setdefault(element.job_id, []).append(element.array_index)
        return jobs

    def completed(self) -> int:
        return sum(1 for e in self.elements if e.succeeded)

    def failures(self) -> list[Element]:
        return [e for e in self.elements if e.final and not e.succeeded]

    # ---- transitions -----------------------------------------------------------------------

    def start_try(self) -> None:
        """A new Airflow try reruns the elements that ended failed, with a fresh retry budget."""
        self.task_try += 1
        for element in self.failures():
            element.final = False
            element.job_id = None
            element.attempts = 0
            element.note = f"rerun by a new task try after {element.state}"

    def give_up(self, elements: Iterable[Element], state: SlurmState, why: str) -> None:
        """Make ``elements`` final failures without a retry (what they wait for failed)."""
        for element in elements:
            element.state = str(state)
            element.final = True
            element.note = why

    def submissions(self, identity: RunIdentity) -> list[Submission]:
        """The sbatch calls that start every element needing submission, in a stable order."""
        groups: dict[tuple[int, Resources], list[int]] = {}
        for element in self.elements:
            if element.needs_submission:
                groups.setdefault((element.chunk, element.resources), []).append(
                    element.array_index
                )
        result = []
        for (chunk, resources), indices in sorted(groups.items(), key=lambda kv: kv[1][0]):
            token = identity.token(self.fingerprint, self.round, chunk, *indices, resources)
            result.append(
                Submission(
                    chunk=chunk,
                    resources=resources,
                    array_indices=tuple(indices),
                    job_name=f"{identity.job_name_prefix}.{token}",
                    token=token,
                )
            )
        return result

    def record_submission(self, submission: Submission, job_id: str) -> None:
        wanted = set(submission.array_indices)
        for element in self.elements:
            mine = element.chunk == submission.chunk and element.array_index in wanted
            if mine and element.needs_submission:
                element.job_id = job_id
                element.attempts += 1
                element.state = None
                element.submitted_in_try = self.task_try
        if job_id not in self.job_ids:
            self.job_ids.append(job_id)

    def apply_results(
        self, statuses: Iterable[ElementStatus], policy: RetryPolicy
    ) -> list[tuple[ElementId, Element, str]]:
        """Record terminal states; failed elements get a retry (job cleared) or become final.

        Returns the decisions as (element id of the ended attempt, element, why) for the log.
        """
        by_id = {status.element: status for status in statuses}
        decisions: list[tuple[ElementId, Element, str]] = []
        for element in self.watched():
            element_id = element.element_id
            status = by_id.get(element_id) if element_id else None
            if status is None or element_id is None:
                continue
            element.state = str(status.state)
            element.exit_code = status.exit_code
            element.signal = status.signal
            element.cancelled_by = status.cancelled_by
            if status.state is SlurmState.COMPLETED:
                element.final = True
                continue
            if status.state is SlurmState.CANCELLED and element.submitted_in_try < self.task_try:
                # Cancelled while an earlier try owned it (a cleared task's on_kill, or by hand
                # before the user re-ran the task): this new try runs it again.
                element.job_id = None
                element.note = f"rerun by task try {self.task_try} after CANCELLED"
                decisions.append((element_id, element, element.note))
                continue
            decision = policy.decide(status.state, element.attempts, element.resources)
            element.note = decision.why
            decisions.append((element_id, element, decision.why))
            if decision.resources is None:
                element.final = True
            else:
                element.resources = decision.resources
                element.job_id = None
        return decisions


def compact_indices(indices: Sequence[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``0-2,5,7-8`` (Slurm ``--array`` syntax)."""
    ordered = sorted(set(indices))
    parts: list[str] = []
    start = previous = ordered[0]
    for index in [*ordered[1:], None]:
        if index is not None and index == previous + 1:
            previous = index
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return ",".join(parts)


def plan_key(spec: ArraySpec) -> str:
    """Where the plan of ``spec`` lives in its task's state store."""
    return PLAN_KEY_PREFIX + spec.fingerprint()


def read_spec(value: dict[str, Any] | str) -> ArraySpec:
    """A stored spec (the state-store value under ``SPEC_KEY``) as an ``ArraySpec``."""
    return ArraySpec.from_json(_loaded(value))


def read_plan(value: dict[str, Any] | str) -> ArrayPlan:
    """A stored plan (a state-store value: compressed, JSON text or decoded) as an
    ``ArrayPlan``."""
    return ArrayPlan.from_json(_loaded(value))
