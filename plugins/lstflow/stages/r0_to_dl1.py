"""r0_to_dl1: ``lstchain_mc_r0_to_dl1`` on every sim_telarray file of each entry's directory.

lstmcpipe's batching: 20 files per array element below 50 files, else 50. Besides lstmcpipe's
``*.simtel.gz``, zstd-compressed ``*.simtel.zst`` files are read too (lstchain reads both).
"""

from __future__ import annotations

import posixpath

from lstflow.jobs.batch_manifest import FileTask
from lstflow.stages.base import PlanContext
from lstflow.stages.file_batches import FileBatchStage
from lstflow.workitems import Resources

SIMTEL_PATTERNS = ("*.simtel.gz", "*.simtel.zst")


def dl1_name(simtel_path: str) -> str:
    name = posixpath.basename(simtel_path)
    for suffix in (".simtel.gz", ".simtel.zst"):
        name = name.removesuffix(suffix)
    return f"dl1_{name}.h5"


def r0_command(path: str, output_dir: str, context: PlanContext) -> FileTask:
    argv = (
        "lstchain_mc_r0_to_dl1",
        f"--input-file={path}",
        f"--output-dir={output_dir}",
        f"--config={context.lstchain_config}",
    )
    return FileTask(argv, posixpath.join(output_dir, dl1_name(path)))


def r0_files_per_element(n_files: int) -> int:
    return 20 if n_files < 50 else 50


R0_TO_DL1 = FileBatchStage(
    "r0_to_dl1", Resources(partition="long"), SIMTEL_PATTERNS, r0_command, r0_files_per_element
)
