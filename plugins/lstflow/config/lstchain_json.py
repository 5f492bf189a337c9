"""The lstchain config JSON that sits beside each production YAML.

lstmcpipe takes it on the command line; in a production directory it is the JSON next to the
YAML: exactly one ``*lstchain*.json``, or failing that exactly one ``*.json``. Its syntax is
always checked; ``check_with_lstchain`` also runs lstchain's own reader when lstchain is
installed (imported lazily: the Airflow side must not import it).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from lstflow.config.errors import ConfigIssue

KEY = "lstchain_config"


def find_lstchain_config(directory: Path) -> tuple[Path | None, ConfigIssue | None]:
    """The JSON beside a YAML in ``directory``, or an issue naming what was (not) found."""
    candidates = sorted(directory.glob("*.json"))
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


def check_with_lstchain(path: Path) -> list[ConfigIssue]:
    """What lstchain itself says: its reader's error, and the image extractor's integration
    correction, which lstmcpipe's validator looks up (and lstchain's MC chain needs)."""
    from lstchain.io.config import get_standard_config, read_configuration_file, replace_config

    try:
        config: dict[str, Any] = read_configuration_file(str(path))
    except Exception as exc:  # report lstchain's own error, whatever it is
        return [
            ConfigIssue(KEY, f"{path}: lstchain cannot read it: {type(exc).__name__}: {exc}", None)
        ]
    issues: list[ConfigIssue] = []
    merged = replace_config(get_standard_config(), config)
    extractor = merged.get("image_extractor")
    block = merged.get(extractor) if isinstance(extractor, str) else None
    if not isinstance(block, dict) or "apply_integration_correction" not in block:
        issues.append(
            ConfigIssue(
                KEY,
                f"{path.name}: no '{extractor}.apply_integration_correction' for the "
                f"image_extractor '{extractor}'",
                "start from 'lstchain_dump_config --mc' and keep the extractor's block",
            )
        )
    return issues
