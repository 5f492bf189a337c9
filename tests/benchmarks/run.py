"""``make bench``: every benchmark, one table on stdout, all numbers in results.json.

Run: ``python tests/benchmarks/run.py [--only PART ...]`` (parse submission orchestration
controller lineage cli).
Nothing here asserts a timing: targets are reported beside the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: benchmarks, support

from benchmarks import cli, controller, lineage, orchestration, parse, report, submission
from benchmarks.common import BENCH_DIR

BENCHMARKS: dict[str, Callable[[], Any]] = {
    "parse": parse.run,
    "submission": submission.run,
    "orchestration": orchestration.run,
    "controller": controller.run,
    "lineage": lineage.run,
    "cli": cli.run,
}


def machine() -> str:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory_gib:.0f} GiB, {platform.system()} {platform.release()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    results_file = BENCH_DIR / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    results.update({"date": date.today().isoformat(), "machine": machine()})
    for name in args.only:
        results[name] = BENCHMARKS[name]()
        results_file.write_text(json.dumps(results, indent=1, default=str))
    print(report.render(results))
    print(f"\n(all numbers: {results_file})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
