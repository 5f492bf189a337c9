"""W3C PROV-JSON documents of a night, built with the ``prov`` library from task fragments.

Each task's fragment (``lstflow.jobs.provenance``) becomes an activity with its command line,
software versions, host and Slurm job id; its files become entities (``prov:location``, size and
sha256). Subrun tasks of one step and run are collapsed into one activity whose inputs and
outputs are ``prov:Collection`` entities with the subrun files as members, as lstosa's
``provprocess`` collapses subruns. One document covers the night; one per DATA run covers the
calibration and that run's steps (lstosa's ``calibration_to_dl2_<run>_prov.json``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prov.model import ProvActivity, ProvDocument

NAMESPACE = ("lstflow", "https://github.com/cta-observatory/lstflow/provenance#")
# Steps every run's document includes: the calibration its R0→DL1 used.
CALIBRATION_STEPS = frozenset({"drs4_baseline", "charge_calibration"})


@dataclass(frozen=True)
class ActivityKey:
    """``r0_to_dl1.01807.0003`` → step, run, subrun (the work item key of lstflow.onsite)."""

    step: str
    run_id: int | None
    subrun: int | None

    @classmethod
    def parse(cls, key: str) -> ActivityKey:
        step, *numbers = key.split(".")
        run_id = int(numbers[0]) if numbers else None
        subrun = int(numbers[1]) if len(numbers) > 1 else None
        return cls(step, run_id, subrun)

    @property
    def collapsed(self) -> str:
        """The activity name subruns share: ``r0_to_dl1.01807``."""
        return self.step if self.run_id is None else f"{self.step}.{self.run_id:05d}"


def _entity_id(path: str) -> str:
    """Entity ids are the md5 of the path, as lstosa's, so one file is one entity everywhere."""
    return f"lstflow:file_{hashlib.md5(path.encode()).hexdigest()}"


def _add_file(document: ProvDocument, entity: Mapping[str, Any]) -> str:
    identifier = _entity_id(entity["path"])
    attributes: list[tuple[str, Any]] = [("prov:location", entity["path"])]
    attributes += [
        (f"lstflow:{name}", entity[name])
        for name in ("size", "sha256")
        if entity.get(name) is not None
    ]
    document.entity(identifier, attributes)
    return identifier


def _activity(
    document: ProvDocument, name: str, fragments: Sequence[Mapping[str, Any]]
) -> ProvActivity:
    attributes: list[tuple[str, Any]] = [("lstflow:step", ActivityKey.parse(name).step)]
    for fragment in fragments:
        attributes.append(("lstflow:command", " ".join(fragment["command"])))
        if fragment.get("job_id"):
            attributes.append(("lstflow:slurm_job_id", fragment["job_id"]))
        if fragment.get("host"):
            attributes.append(("lstflow:host", fragment["host"]))
    software = fragments[0].get("software") or {}
    attributes += [
        (f"lstflow:version_{package}", version)
        for package, version in sorted(software.items())
        if version
    ]
    attributes.append(("lstflow:simulated", bool(fragments[0].get("simulated", False))))
    starts = [f["started"] for f in fragments if f.get("started")]
    ends = [f["ended"] for f in fragments if f.get("ended")]
    return document.activity(
        f"lstflow:{name}", min(starts) if starts else None, max(ends) if ends else None, attributes
    )


def _relate(
    document: ProvDocument,
    activity: ProvActivity,
    name: str,
    fragments: Sequence[Mapping[str, Any]],
) -> None:
    """Inputs are ``used``, outputs ``wasGeneratedBy``; a collapsed subrun step relates to one
    collection per role whose members are the subrun files."""
    collapsed = len(fragments) > 1 or ActivityKey.parse(fragments[0]["activity"]).subrun is not None
    for role in ("used", "generated"):
        files = [_add_file(document, e) for f in fragments for e in f.get(role, ())]
        if not files:
            continue
        if collapsed:
            collection_id = f"lstflow:{name}.{role}Collection"
            collection = document.collection(collection_id)
            for member in dict.fromkeys(files):
                document.hadMember(collection, member)
            targets = [collection_id]
        else:
            targets = list(dict.fromkeys(files))
        for target in targets:
            if role == "used":
                document.used(activity, target)
            else:
                document.wasGeneratedBy(target, activity)


def build_document(fragments: Iterable[Mapping[str, Any]]) -> ProvDocument:
    """One PROV document of the given fragments, subruns collapsed per step and run."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for fragment in sorted(fragments, key=lambda f: f["activity"]):
        groups.setdefault(ActivityKey.parse(fragment["activity"]).collapsed, []).append(fragment)
    document = ProvDocument()
    document.add_namespace(*NAMESPACE)
    for name, members in groups.items():
        _relate(document, _activity(document, name, members), name, members)
    return document


def run_fragments(fragments: Sequence[Mapping[str, Any]], run_id: int) -> list[Mapping[str, Any]]:
    """The calibration's and the run's own fragments."""
    chosen = []
    for fragment in fragments:
        key = ActivityKey.parse(fragment["activity"])
        if key.step in CALIBRATION_STEPS or key.run_id == run_id:
            chosen.append(fragment)
    return chosen
