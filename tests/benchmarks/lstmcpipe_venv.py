"""lstmcpipe 0.11.5 from PyPI in its own venv, with only what its loader and launcher import.

Its declared dependencies (lstchain, ctaplot, pyirf, matplotlib, ...) are only needed by the
job-side scripts; ``load_config`` and ``lstmcpipe_start`` import ruamel.yaml and deepdiff (plus
the standard library), so the venv gets ``lstmcpipe --no-deps`` and those two.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks.common import BENCH_DIR

VERSION = "0.11.5"
VENV = BENCH_DIR / "lstmcpipe-venv"
BIN = VENV / "bin"


def ensure_venv() -> Path:
    """The venv's bin directory, created and installed once."""
    marker = VENV / f".lstmcpipe-{VERSION}"
    if marker.exists():
        return BIN
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(BIN / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", f"lstmcpipe=={VERSION}"], check=True, timeout=600)
    subprocess.run([*pip, "ruamel.yaml>=0.17", "deepdiff"], check=True, timeout=600)
    check = [str(BIN / "python"), "-c", "import lstmcpipe.lstmcpipe_start"]
    subprocess.run(check, check=True)
    marker.touch()
    return BIN
