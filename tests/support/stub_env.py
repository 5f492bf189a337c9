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


def output_writing_body(ledger: Path, sleep_s: float) -> str:
    """A stub body that sleeps, appends ``<job name> <array index>`` to ``ledger`` and writes
    what its tool would, so each stage plans from inputs that exist (#17's input check).

    It writes the ``-o`` / ``--otrain`` / ``--otest`` targets (a file for ``*.h5`` / ``*.gz``,
    else a directory) and, for ``lstchain_dl1_to_dl2``, one DL2 file per ``-f`` input in its
    ``-o`` directory. Outside a job (provenance asks ``python`` for versions over SSH) it just
    exits.
    """
    return (
        '[ -n "$SLURM_ARRAY_TASK_ID" ] || exit 0\n'
        f'sleep {sleep_s}\necho "$SLURM_JOB_NAME $SLURM_ARRAY_TASK_ID" >> {ledger}\n'
        "prev= out= inputs=\n"
        'for arg in "$@"; do\n'
        '  case "$prev" in\n'
        '    -o|--otrain|--otest) out=$arg; case "$arg" in\n'
        '      *.h5|*.gz) mkdir -p "$(dirname "$arg")" && : > "$arg" ;;\n'
        '      *) mkdir -p "$arg" ;; esac ;;\n'
        '    -f) inputs="$inputs $arg" ;;\n'
        "  esac\n"
        "  prev=$arg\n"
        "done\n"
        'for f in $inputs; do : > "$out/$(basename "$f" | sed s/dl1/dl2/)"; done\n'
    )
