"""dl1ab: ``lstchain_dl1ab --no-image`` on every DL1 file of each entry's directory, 50 a task."""

from __future__ import annotations

import posixpath

from lstflow.jobs.batch_manifest import FileTask
from lstflow.stages.base import PlanContext
from lstflow.stages.file_batches import FileBatchStage
from lstflow.workitems import Resources


def dl1ab_command(path: str, output_dir: str, context: PlanContext) -> FileTask:
    output = posixpath.join(output_dir, posixpath.basename(path))
    argv = (
        "lstchain_dl1ab",
        "--no-image",
        f"--input-file={path}",
        f"--output-file={output}",
        f"--config={context.lstchain_config}",
    )
    return FileTask(argv, output)


DL1AB = FileBatchStage(
    "dl1ab", Resources(partition="long"), ("*.h5",), dl1ab_command, lambda n_files: 50
)
