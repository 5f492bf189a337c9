"""A production ``source_file`` that replaces the analysis tools by stubs (trivial payloads).

Sourced by every job of a production, it puts a directory of stubs first on the ``PATH``: each
lstchain tool and ``python`` becomes a tiny shell script, so a production's whole chain runs
through the real Slurm and Airflow machinery in seconds.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml


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


#: Shell lines writing what a tool would: its ``-o`` / ``--otrain`` / ``--otest`` targets (a file
#: for ``*.h5`` / ``*.gz``, else a directory) and, for ``lstchain_dl1_to_dl2``, one DL2 file per
#: ``-f`` input in its ``-o`` directory. Leaves ``$out`` set for the lines after it.
OUTPUT_WRITING_LINES = (
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
    # Only after -o: lstmcpipe's r0_to_dl1 passes -f with --output-dir, which is no DL2.
    '[ -z "$out" ] || for f in $inputs; do : > "$out/$(basename "$f" | sed s/dl1/dl2/)"; done\n'
)
#: Lines that end a stub run outside a job (provenance asks ``python`` for versions over SSH).
OUTSIDE_A_JOB_EXITS = '[ -n "$SLURM_ARRAY_TASK_ID" ] || exit 0\n'
#: The demo's lstchain config, which stub productions copy beside their YAML.
DEMO_LSTCHAIN_CONFIG = (
    Path(__file__).resolve().parents[2]
    / "include/production_configs/demo/lstflow_demo_dl1/lstchain_config_mc.json"
)


def output_writing_body(ledger: Path, sleep_s: float) -> str:
    """A stub body that sleeps, appends ``<job name> <array index>`` to ``ledger`` and writes
    what its tool would (``OUTPUT_WRITING_LINES``), so each stage plans from inputs that exist
    (#17's input check)."""
    return (
        OUTSIDE_A_JOB_EXITS
        + f'sleep {sleep_s}\necho "$SLURM_JOB_NAME $SLURM_ARRAY_TASK_ID" >> {ledger}\n'
        + OUTPUT_WRITING_LINES
    )


def write_stub_production(
    library: Path, prod_id: str, env_file: Path, stages: Mapping[str, list[dict[str, Any]]]
) -> Path:
    """An lstchain production ``prod_id`` in ``library`` whose jobs source ``env_file`` (the
    stubs); returns its folder."""
    config = {
        "workflow_kind": "lstchain",
        "prod_id": prod_id,
        "source_environment": {"source_file": str(env_file)},
        "stages_to_run": list(stages),
        "stages": dict(stages),
    }
    production = library / prod_id
    production.mkdir(parents=True)
    shutil.copy(DEMO_LSTCHAIN_CONFIG, production)
    (production / "lstmcpipe_config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return production
