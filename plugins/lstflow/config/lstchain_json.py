"""The lstchain config JSON that sits beside each production YAML.

lstmcpipe takes it on the command line; in a production directory it is the JSON next to the
YAML: exactly one ``*lstchain*.json``, or failing that exactly one ``*.json``. Its syntax is
always checked; ``check_with_lstchain`` also runs lstchain's own reader when lstchain is
installed, in a subprocess (``lstflow.jobs.check_lstchain_config``): the Airflow side never
imports lstchain. Importing lstchain costs seconds, so lstchain's verdict on a file is cached
by the file's content and lstchain's version: re-validating a library whose JSON files did not
change (a pre-commit hook, a CI rerun) runs no subprocess at all.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
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


def check_with_lstchain(
    paths: list[Path], cache_dir: Path | None = None
) -> dict[Path, list[ConfigIssue]]:
    """What lstchain's own reader says of each file: cached verdicts, and for the others one
    subprocess of this Python for all of them."""
    if not paths:
        return {}
    version = importlib.metadata.version("lstchain")
    verdicts = {path: _cached_verdict(cache_dir, path, version) for path in paths}
    unchecked = [path for path, problems in verdicts.items() if problems is None]
    if unchecked:
        command = [sys.executable, "-m", "lstflow.jobs.check_lstchain_config", *map(str, unchecked)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the lstchain config check failed:\n{done.stderr[-2000:]}")
        found: dict[str, list[str]] = json.loads(done.stdout)
        for path in unchecked:
            verdicts[path] = found[str(path)]
            if cache_dir is not None:
                _store_verdict(cache_dir, path, version, found[str(path)])
    return {
        path: [ConfigIssue(KEY, f"{path.name}: {problem}", None) for problem in problems or []]
        for path, problems in verdicts.items()
    }


def _verdict_file(cache_dir: Path, path: Path, version: str) -> Path | None:
    try:
        content = path.read_bytes()
    except OSError:
        return None  # lstchain's reader reports the unreadable file itself
    key = hashlib.sha256(content + f"\0lstchain {version}".encode()).hexdigest()[:32]
    return cache_dir / f"lstchain-verdict-{key}.json"


def _cached_verdict(cache_dir: Path | None, path: Path, version: str) -> list[str] | None:
    """The cached problems of this content under this lstchain version, or None on a miss."""
    file = None if cache_dir is None else _verdict_file(cache_dir, path, version)
    if file is None:
        return None
    try:
        problems = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(problems, list) and all(isinstance(problem, str) for problem in problems):
        return problems
    return None


def _store_verdict(cache_dir: Path, path: Path, version: str, problems: list[str]) -> None:
    """Atomically store a verdict; a cache that cannot be written is skipped."""
    file = _verdict_file(cache_dir, path, version)
    if file is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as stream:
            json.dump(problems, stream)
        os.replace(tmp, file)
    except OSError:
        return
