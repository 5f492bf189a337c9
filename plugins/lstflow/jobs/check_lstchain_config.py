"""Check lstchain config JSON files with lstchain's own reader (analysis environment).

``lstflow validate`` runs this once for all the configs it checks, so the Airflow side never
imports lstchain and lstchain's real error reaches the user (lstmcpipe's CI ignored it).

    python -m lstflow.jobs.check_lstchain_config FILE.json [FILE.json ...]

prints a JSON object ``{file: [problem, ...]}`` and exits 0; a crash of the checker itself
exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any


def problems_of(path: str) -> list[str]:
    """lstchain's reader error, or the image extractor's missing integration correction
    (which lstmcpipe's validator looks up and lstchain's MC chain needs)."""
    from lstchain.io.config import get_standard_config, read_configuration_file, replace_config

    try:
        config: dict[str, Any] = read_configuration_file(path)
    except Exception as exc:  # report lstchain's own error, whatever it is
        return [f"lstchain cannot read it: {type(exc).__name__}: {exc}"]
    merged = replace_config(get_standard_config(), config)
    extractor = merged.get("image_extractor")
    block = merged.get(extractor) if isinstance(extractor, str) else None
    if not isinstance(block, dict) or "apply_integration_correction" not in block:
        return [
            f"no '{extractor}.apply_integration_correction' for the image_extractor "
            f"'{extractor}' (start from 'lstchain_dump_config --mc' and keep the extractor's "
            "block)"
        ]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lstflow.jobs.check_lstchain_config")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    json.dump({path: problems_of(path) for path in args.files}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
