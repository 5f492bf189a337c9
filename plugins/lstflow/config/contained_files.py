"""The files of a production stay in its directory and stay small.

A README, lstchain JSON or config YAML that is a symlink to ``/etc/shadow`` or to Airflow's
password file would be shown on the Productions page, copied to the cluster or quoted in a YAML
error; a 50 MB README would become the DAG's documentation. These checks run before any of
them is read, so ``lstflow validate`` refuses what the pages and jobs would otherwise expose.
"""

from __future__ import annotations

from pathlib import Path

from lstflow.config.errors import ConfigIssue

MAX_README_BYTES = 256 * 1024
MAX_LSTCHAIN_JSON_BYTES = 1024 * 1024


def outside_issue(path: Path, directory: Path, key: str) -> ConfigIssue | None:
    """An issue when ``path`` resolves (through symlinks) outside ``directory``."""
    if path.resolve().is_relative_to(directory.resolve()):
        return None
    return ConfigIssue(
        key,
        f"{path} is a symlink leading outside {directory}",
        "put the file itself in the production's directory instead of a link to elsewhere",
    )


def contained_issue(path: Path, directory: Path, key: str, max_bytes: int) -> ConfigIssue | None:
    """``outside_issue``, or an issue when the file is larger than ``max_bytes``."""
    outside = outside_issue(path, directory, key)
    if outside is not None:
        return outside
    try:
        size = path.stat().st_size
    except OSError as exc:
        return ConfigIssue(key, f"cannot read {path}: {exc.strerror}", None)
    if size > max_bytes:
        return ConfigIssue(
            key,
            f"{path} has {size:,} bytes, more than the {max_bytes:,} allowed",
            "keep the file short (link to long documents instead of including them)",
        )
    return None


def read_readme(path: Path) -> str:
    """A README's text, at most ``MAX_README_BYTES`` of it (the loader refused larger ones;
    this bounds what a file grown since can put into a page or a DAG's documentation)."""
    with path.open("rb") as stream:
        return stream.read(MAX_README_BYTES).decode("utf-8", errors="replace")
