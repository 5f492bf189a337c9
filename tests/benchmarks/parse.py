"""Benchmark 1: DAG parse time of production libraries, lstflow against lstmcpipe's loader.

lstflow's number is what the dag-processor pays: a ``DagBag`` over ``dags/lstflow_productions.py``
with the library in ``AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS``, in a fresh process, cold (empty
parse cache) and warm (cache filled: the re-parse done every ``min_file_process_interval``).
lstmcpipe's number is its ``load_config`` over the same YAML files, in its own venv.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import BENCH_DIR, CHECKOUT, DAG_FILE, PYTHON, lstflow_env, run_json_probe
from benchmarks.libraries import LIBRARIES, ensure_library, library_size
from benchmarks.lstmcpipe_venv import ensure_venv

HERE = Path(__file__).resolve().parent
#: Airflow's default; a file parsing longer is an import error in the dag-processor.
DAGBAG_IMPORT_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 1800


def sample_libraries() -> list[tuple[str, Path, dict[str, str]]]:
    """The demo library and the three real sample productions, with what their paths need."""
    from lstflow_dev.testdata import production_samples_dir

    demo_vars = {"LSTFLOW_DATA_ROOT": "/data", "LSTFLOW_ANALYSIS_ENV": "/env"}
    return [
        ("demo", CHECKOUT / "include" / "production_configs" / "demo", demo_vars),
        ("real_samples_3", production_samples_dir(), {}),
    ]


def parse_lstflow(library: Path, cache: Path, extra_env: dict[str, str]) -> dict[str, Any]:
    home = BENCH_DIR / "airflow-parse"
    home.mkdir(parents=True, exist_ok=True)
    env = lstflow_env(
        {
            **extra_env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # Measure slow parses instead of cutting them off; compared to 30 s in the report.
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": str(PROBE_TIMEOUT_S),
            "AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS": str(library),
            "AIRFLOW__LSTFLOW__PARSE_CACHE_DIR": str(cache),
        }
    )
    argv = [PYTHON, str(HERE / "parse_probe.py"), str(DAG_FILE)]
    return run_json_probe(argv, env, PROBE_TIMEOUT_S)


def parse_lstmcpipe(library: Path) -> dict[str, Any]:
    python = ensure_venv() / "python"
    argv = [str(python), str(HERE / "lstmcpipe_load_probe.py"), str(library)]
    logs = BENCH_DIR / "lstmcpipe-prod-logs"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(BENCH_DIR), "LSTMCPIPE_PROD_LOGS": str(logs)}
    return run_json_probe(argv, env, PROBE_TIMEOUT_S)


def measure(name: str, library: Path, extra_env: dict[str, str]) -> dict[str, Any]:
    configs, megabytes = library_size(library)
    cache = Path(tempfile.mkdtemp(prefix="parse-cache-", dir=BENCH_DIR))
    try:
        cold = parse_lstflow(library, cache, extra_env)
        warm = parse_lstflow(library, cache, extra_env)
    finally:
        shutil.rmtree(cache)
    # The lineage-aware shape ([lstflow] lineage_runs), cold too: built from headers alike.
    cache = Path(tempfile.mkdtemp(prefix="parse-cache-", dir=BENCH_DIR))
    try:
        lineage = parse_lstflow(
            library, cache, {**extra_env, "AIRFLOW__LSTFLOW__LINEAGE_RUNS": "True"}
        )
    finally:
        shutil.rmtree(cache)
    reference = parse_lstmcpipe(library)
    return {
        "library": name,
        "configs": configs,
        "yaml_mb": megabytes,
        "dags": cold["dags"],
        "import_errors": cold["import_errors"],
        "lstflow_cold_s": cold["parse_s"],
        "lstflow_warm_s": warm["parse_s"],
        "lstflow_lineage_cold_s": lineage["parse_s"],
        "lstflow_lineage_dags": lineage["dags"],
        "lstflow_cold_cpu_s": cold["parse_cpu_s"],
        "lstflow_warm_cpu_s": warm["parse_cpu_s"],
        "lstflow_serialize_s": cold["serialize_s"],
        "serialized_mb": cold["serialized_mb"],
        "lstflow_peak_rss_mb": max(cold["peak_rss_mb"], warm["peak_rss_mb"]),
        "cold_exceeds_import_timeout": cold["parse_s"] > DAGBAG_IMPORT_TIMEOUT_S,
        "lstmcpipe_load_s": reference["load_s"],
        "lstmcpipe_failures": reference["failures"],
        "lstmcpipe_first_error": reference["first_error"],
        "lstmcpipe_peak_rss_mb": reference["peak_rss_mb"],
    }


def run(only: set[str] | None = None) -> list[dict[str, Any]]:
    rows = []
    libraries = sample_libraries()
    libraries += [(spec.name, ensure_library(spec), {}) for spec in LIBRARIES]
    for name, library, extra_env in libraries:
        if only and name not in only:
            continue
        print(f"[parse] {name} ...", flush=True)
        rows.append(measure(name, library, extra_env))
    return rows
