"""Run in lstmcpipe's own venv: load every YAML of a library with lstmcpipe's ``load_config``.

Prints one JSON line (time, configs loaded, failures, peak RSS). lstmcpipe prints a line per
stage while validating; that goes to /dev/null.
Usage: python lstmcpipe_load_probe.py LIBRARY_DIR
"""

import contextlib
import json
import os
import pathlib
import resource
import sys
import time


def main(root: str) -> None:
    files = sorted(
        path
        for path in pathlib.Path(root).rglob("*")
        if path.suffix in (".yml", ".yaml") and path.is_file()
    )
    start = time.perf_counter()
    from lstmcpipe.config import load_config

    imported = time.perf_counter()
    failures = 0
    first_error = ""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for path in files:
            try:
                load_config(str(path))
            except Exception as error:
                failures += 1
                first_error = first_error or f"{path.name}: {type(error).__name__}: {error}"
    loaded = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": imported - start,
                "load_s": loaded - imported,
                "configs": len(files),
                "failures": failures,
                "first_error": first_error,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
