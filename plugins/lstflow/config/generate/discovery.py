"""Find the MC pointing nodes on disk (lstmcpipe scanned /fefs; here, under the data root)."""

from __future__ import annotations

import re
from pathlib import Path

from lstflow.config.generate.layout import ALLSKY_DL0_VERSION

SIMTEL_SUFFIXES = (".simtel.gz", ".simtel.zst")
# Node directories are named like node_corsika_theta_69.992_az_60.505_
NODE_POINTING = re.compile(r"theta_(?P<theta>[0-9.]+)_az_(?P<az>[0-9.]+)_")

Pointing = tuple[str, str]  # (theta, az) as written in the node name


def has_simtel_files(directory: Path) -> bool:
    return directory.is_dir() and any(
        entry.name.endswith(SIMTEL_SUFFIXES) for entry in directory.iterdir()
    )


def scan_nodes(sim_telarray: Path, missing: list[str]) -> dict[Pointing, str]:
    """Nodes under ``sim_telarray`` holding simtel files, by pointing, sorted by node name.

    Nodes without files or with an unreadable name are appended to ``missing``.
    """
    nodes: dict[Pointing, str] = {}
    if not sim_telarray.is_dir():
        missing.append(f"no DL0 directory {sim_telarray}")
        return nodes
    for node in sorted(entry for entry in sim_telarray.iterdir() if entry.is_dir()):
        match = NODE_POINTING.search(node.name)
        if match is None:
            missing.append(f"{node}: not a pointing node name (expected theta_X_az_Y_)")
        elif not has_simtel_files(node / ALLSKY_DL0_VERSION):
            missing.append(f"{node}: no simtel files in {ALLSKY_DL0_VERSION}/")
        else:
            nodes[(match["theta"], match["az"])] = node.name
    return nodes
