"""Benchmark 6: CPU time of the ``lstflow`` command line (what a user and a pre-commit hook pay).

``lstflow --help``, and ``lstflow validate`` (lstchain check included) on the 3,409-entry
production: cold (empty cache: YAML parsed, lstchain imported in its checker subprocess), after
an edit of the YAML only (the pre-commit case: YAML re-parsed, lstchain's verdict on the
unchanged JSON reused), and unchanged. CPU is user + system time of the process and its
children (the lstchain checker included), from ``getrusage(RUSAGE_CHILDREN)``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import BENCH_DIR, PYTHON, lstflow_env
from benchmarks.libraries import LIBRARIES, ensure_library

REPEATS = 5
LIBRARY = LIBRARIES[0]  # single_3400_entries


def cpu_seconds(argv: list[str], env: dict[str, str]) -> float:
    """User + system CPU of one run of ``argv`` and every process it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_cpu(argv: list[str], env: dict[str, str], before_each: Any = None) -> float:
    samples = []
    for _ in range(REPEATS):
        if before_each is not None:
            before_each()
        samples.append(cpu_seconds(argv, env))
    return statistics.median(samples)


def run() -> dict[str, Any]:
    library = ensure_library(LIBRARY)
    (config,) = library.rglob("*.yaml")
    lstflow = [PYTHON, "-m", "lstflow.cli"]
    cache = Path(tempfile.mkdtemp(prefix="cli-cache-", dir=BENCH_DIR))
    env = lstflow_env({"XDG_CACHE_HOME": str(cache)})
    validate = [*lstflow, "validate", "--json", str(library)]
    try:
        print("[cli] lstflow --help, lstflow validate ...", flush=True)
        help_cpu = median_cpu([*lstflow, "--help"], env)
        cold_cpu = cpu_seconds(validate, env)
        edited_cpu = median_cpu(validate, env, before_each=lambda: os.utime(config))
        unchanged_cpu = median_cpu(validate, env)
        report = subprocess.run(validate, env=env, check=True, capture_output=True, text=True)
    finally:
        shutil.rmtree(cache)
    return {
        "entries": sum(file["entries"] for file in json.loads(report.stdout)["files"]),
        "help_cpu_s": help_cpu,
        "validate_cold_cpu_s": cold_cpu,
        "validate_yaml_edited_cpu_s": edited_cpu,
        "validate_unchanged_cpu_s": unchanged_cpu,
    }
