"""The lstchain config JSON that sits beside each production YAML.

lstmcpipe takes it on the command line; in a production directory it is the JSON next to the
YAML: exactly one ``*lstchain*.json``, or failing that exactly one ``*.json``. Its syntax is
always checked; ``check_with_lstchain`` also runs lstchain's own reader when lstchain is
installed, in a subprocess (``lstflow.jobs.check_lstchain_config``): the Airflow side never
imports lstchain.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from lstflow.config.directory import names_ending
from lstflow.config.errors import ConfigIssue

KEY = "lstchain_config"


def find_lstchain_config(directory: Path) -> tuple[Path | None, ConfigIssue | None]:
    """The JSON beside a YAML in ``directory``, or an issue naming what was (not) found."""
    candidates = names_ending(directory, ".json")
    named = [path for path in candidates if "lstchain" in path.name]
    chosen = named or candidates
    if len(chosen) == 1:
        return chosen[0], None
    if not chosen:
        return None, ConfigIssue(
            KEY,
            f"no lstchain config JSON in {directory}",
            "add the production's lstchain config (e.g. from 'lstchain_dump_config --mc') "
            "as lstchain_config_<name>.json beside the YAML",
        )
    names = ", ".join(path.name for path in chosen)
    return None, ConfigIssue(
        KEY,
        f"several candidate lstchain configs in {directory}: {names}",
        "keep exactly one '*lstchain*.json' beside the YAML",
    )


def check_json_syntax(path: Path) -> ConfigIssue | None:
    """An issue when ``path`` is not a readable JSON object, else ``None``."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        return ConfigIssue(KEY, f"cannot read {path}: {exc.strerror}", None)
    except UnicodeDecodeError:
        return ConfigIssue(KEY, f"{path}: not UTF-8 text", "save the file as UTF-8")
    except json.JSONDecodeError as exc:
        return ConfigIssue(KEY, f"{path}: invalid JSON: {exc}", "fix the JSON syntax")
    if not isinstance(data, dict):
        return ConfigIssue(KEY, f"{path}: expected a JSON object", None)
    return None


def lstchain_available() -> bool:
    """Whether the analysis extra (lstchain) is installed in this Python."""
    return importlib.util.find_spec("lstchain") is not None


def check_with_lstchain(paths: list[Path]) -> dict[Path, list[ConfigIssue]]:
    """What lstchain's own reader says of each file, run in a subprocess of this Python."""
    if not paths:
        return {}
    command = [sys.executable, "-m", "lstflow.jobs.check_lstchain_config", *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the lstchain config check failed:\n{done.stderr[-2000:]}")
    found: dict[str, list[str]] = json.loads(done.stdout)
    return {
        Path(path): [
            ConfigIssue(KEY, f"{Path(path).name}: {problem}", None) for problem in problems
        ]
        for path, problems in found.items()
    }
