"""Stages that run one command per input file, many files per array element (lstmcpipe's
r0_to_dl1 and dl1ab), through the job-side batch runner ``lstflow.jobs.batch``.

Each element's command stays short: the file lists go to a manifest the batch runner reads.
Unlike lstmcpipe, a missing or empty input directory is an error, not a silent skip, and file
lists are sorted so a rerun batches the same files the same way.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lstflow.config.model import Dl1abEntry, R0ToDl1Entry
from lstflow.jobs.batch_manifest import BatchManifest, FileTask
from lstflow.stages.base import PlanContext, StagePlan, entry_layers, stage_resources
from lstflow.workitems import Resources, WorkItem

DirectoryEntry = R0ToDl1Entry | Dl1abEntry
FileCommand = Callable[[str, str, PlanContext], FileTask]


class InputDirectoryError(ValueError):
    """An entry's input directory is missing or holds no input file."""


@dataclass(frozen=True)
class FileBatchStage:
    name: str
    defaults: Resources
    patterns: tuple[str, ...]
    command: FileCommand
    files_per_element: Callable[[int], int]

    def plan(self, entries: Sequence[DirectoryEntry], context: PlanContext) -> StagePlan:
        log_dir = context.stage_log_dir(self.name)
        manifest_path = posixpath.join(log_dir, "manifests", f"{context.run_label}.json")
        elements: list[tuple[FileTask, ...]] = []
        items: list[WorkItem] = []
        problems: list[str] = []
        if context.files is None:
            inputs = tuple(dict.fromkeys(entry.input for entry in entries))
            return StagePlan(self.name, (), log_dir, unlisted_inputs=inputs)
        listings = context.files.list_directories([entry.input for entry in entries], self.patterns)
        for entry in entries:
            files = listings.get(entry.input)
            if not files:
                problems.append(self._input_problem(entry, files))
                continue
            tasks = [self.command(path, entry.output, context) for path in files]
            size = self.files_per_element(len(tasks))
            planned = stage_resources(context, self.defaults, entry_layers(entry, context))
            for batch_number, start in enumerate(range(0, len(tasks), size)):
                batch = tuple(tasks[start : start + size])
                argv = context.job_module(
                    "batch",
                    manifest_path,
                    "--element",
                    str(len(elements)),
                    "--log-dir",
                    posixpath.join(entry.output, f"job_logs_{self.name}"),
                    "--failed-outputs-dir",
                    context.failed_outputs_dir,
                )
                items.append(
                    WorkItem(
                        key=f"{self.name}[{entry.index}].{batch_number}",
                        argv=argv,
                        resources=planned.resources,
                        outputs=tuple(task.output for task in batch),
                        description=f"{len(batch)} files of {entry.input}",
                        resource_sources=planned.sources,
                    )
                )
                elements.append(batch)
        if problems:
            raise InputDirectoryError("\n".join(problems))
        manifest = json.dumps(BatchManifest(tuple(elements)).to_json())
        return StagePlan(
            self.name,
            tuple(items),
            log_dir,
            files=((manifest_path, manifest),),
            tool_commands=tuple(
                (item.key, tuple(task.argv for task in batch))
                for item, batch in zip(items, elements, strict=True)
            ),
        )

    def _input_problem(self, entry: DirectoryEntry, files: list[str] | None) -> str:
        where = f"stages.{self.name}[{entry.index}]: input directory {entry.input}"
        if files is None:
            return f"{where} does not exist or cannot be read on the cluster"
        return f"{where} holds no {' or '.join(self.patterns)} file"
