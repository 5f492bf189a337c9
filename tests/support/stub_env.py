"""A production ``source_file`` that replaces the analysis tools by stubs (trivial payloads).

Sourced by every job of a production, it puts a directory of stubs first on the ``PATH``: each
lstchain tool and ``python`` becomes a tiny shell script, so a production's whole chain runs
through the real Slurm and Airflow machinery in seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path


def stub_names(
    bin_dirs: Iterable[Path] = (Path(sys.prefix) / "bin",),
    patterns: Iterable[str] = ("lstchain_*",),
) -> set[str]:
    """``python``, ``python3`` (lstflow's job-side modules) and the tools matching ``patterns``
    in ``bin_dirs`` (by default every lstchain entry point of this venv)."""
    names = {"python", "python3"}
    for bin_dir in bin_dirs:
        for pattern in patterns:
            names.update(path.name for path in bin_dir.glob(pattern))
    return names


def write_stub_env(directory: Path, names: Iterable[str], body: str = "exit 0\n") -> Path:
    """Stubs ``names`` (each runs the sh ``body``) in ``directory/stubs``; returns the env file.

    ``conda`` becomes a no-op function, as lstmcpipe-style environments call it.
    """
    stubs = directory / "stubs"
    stubs.mkdir(parents=True, exist_ok=True)
    for name in names:
        stub = stubs / name
        stub.write_text("#!/bin/sh\n" + body)
        stub.chmod(0o755)
    env_file = directory / "stub_env.sh"
    env_file.write_text(f'conda() {{ :; }}\nexport PATH="{stubs}:$PATH"\n')
    return env_file
