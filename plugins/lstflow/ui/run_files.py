"""Files the pages show that live on the cluster: plots and provenance.json, read over SSH.

The api-server does not share the cluster's filesystem in general, so files come through the
Slurm layer's ``ClusterFiles``. Only paths derived from the production config or
from the run records are ever read: a URL names a plot, never a path. Reads go through the
process's one SSH connection (``cluster_access``) and a bounded cache keyed by the file's
version (modification time, size, inode). A page asks for its plots' versions in one call each
time it is shown, so a plot written or rewritten a moment ago shows at the next refresh, and
a missing one is a placeholder; nothing says "missing" from a cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from dataclasses import dataclass
from typing import Any

from lstflow.config.model import Dl2ToSensitivityEntry, ProductionConfig, TrainPipeEntry
from lstflow.stages.dl2_to_sensitivity import plot_path as sensitivity_plot_path
from lstflow.stages.train_pipe import FEATURE_IMPORTANCE_PNG
from lstflow.ui.cluster_access import BoundedCache, cluster_lock, shared_hook

MAX_FILE_BYTES = 20 * 1024 * 1024
CACHE_SECONDS = 60.0
#: A file version token as the pages put it in a plot's URL (``?v=``).
VERSION_PATTERN = "^[0-9a-f]{16}$"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlotSource:
    name: str
    title: str
    path: str


def plot_sources(production: ProductionConfig) -> list[PlotSource]:
    """The plots a production's stages write: RF feature importance per train_pipe entry,
    sensitivity and IRF performance per dl2_to_sensitivity entry."""
    run = set(production.stages_to_run)
    plots: list[PlotSource] = []
    for number, entry in enumerate(production.entries("train_pipe")):
        if "train_pipe" in run and isinstance(entry, TrainPipeEntry):
            path = posixpath.join(entry.output, FEATURE_IMPORTANCE_PNG)
            plots.append(PlotSource(f"rf-importance-{number}", "RF feature importance", path))
    for number, entry in enumerate(production.entries("dl2_to_sensitivity")):
        if "dl2_to_sensitivity" in run and isinstance(entry, Dl2ToSensitivityEntry):
            path = sensitivity_plot_path(entry.output)
            plots.append(PlotSource(f"sensitivity-{number}", "Sensitivity", path))
            irf_path = sensitivity_plot_path(entry.output, "_irfs")
            plots.append(PlotSource(f"irfs-{number}", "IRF performance", irf_path))
    return plots


@dataclass(frozen=True)
class PlotView:
    """A plot as the page shows it: ``version`` of its file (a short token, ``None`` when
    not written yet); ``known`` is False when the cluster could not be asked."""

    source: PlotSource
    version: str | None
    known: bool = True

    @property
    def missing(self) -> bool:
        return self.known and self.version is None


def _token(version: str) -> str:
    return hashlib.sha256(version.encode()).hexdigest()[:16]


def _versions_over_ssh(paths: list[str]) -> dict[str, str]:
    from lstflow.slurm.cluster_files import ClusterFiles

    with cluster_lock:
        versions = ClusterFiles(shared_hook()).versions(paths)
    return {path: _token(version) for path, version in versions.items()}


def file_version(path: str) -> str | None:
    """The version token of one file, ``None`` if it is missing (asked now, never cached)."""
    return _versions_over_ssh([path]).get(path)


def plot_views(plots: list[PlotSource]) -> list[PlotView]:
    """Each plot with its file's current version, in one SSH call (never cached: a plot
    written a moment ago shows at the next refresh). The page shows whatever the cluster
    connection does (missing, refused, down): then the images decide."""
    if not plots:
        return []
    try:
        versions = _versions_over_ssh([plot.path for plot in plots])
    except Exception as error:
        log.warning("lstflow UI: plot versions unknown, the images decide: %s", error)
        return [PlotView(plot, None, known=False) for plot in plots]
    return [PlotView(plot, versions.get(plot.path)) for plot in plots]


#: At most 64 files and 64 MiB of them per api-server process; a missing file is not kept.
_CACHE: BoundedCache[bytes | None] = BoundedCache(
    CACHE_SECONDS,
    max_entries=64,
    max_size=64 * 1024 * 1024,
    size=lambda v: len(v or b""),
    keep=lambda v: v is not None,
)


def _read_over_ssh(path: str) -> bytes | None:
    from lstflow.slurm.cluster_files import ClusterFiles

    with cluster_lock:
        return ClusterFiles(shared_hook()).read(path, MAX_FILE_BYTES)


def read_file(path: str, version: str | None = None) -> bytes | None:
    """The file's bytes, or ``None`` if it is missing, unreadable or too large.

    ``version`` (from ``plot_views`` or ``file_version``) keys the cache, so a file rewritten
    since is read again; without it a read is kept ``CACHE_SECONDS`` (files written once).
    """
    return _CACHE.get((path, version), lambda: _read_over_ssh(path))


def read_json(path: str) -> dict[str, Any] | None:
    data = read_file(path)
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
