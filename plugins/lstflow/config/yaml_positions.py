"""Where a YAML path (``stages.merge_dl1[2].input``) is in a config file: line and column.

Only ``lstflow validate`` asks, and only for files with problems, so loading stays as fast as it
is: the file is composed once more here, into nodes that carry their marks.
"""

from __future__ import annotations

import re
from dataclasses import replace

import yaml

from lstflow.config.errors import ConfigIssue
from lstflow.config.yaml_loader import ProductionYamlLoader

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_UNKNOWN_KEY = re.compile(r"unknown key '([^']*)'")


def _walk(root: yaml.Node, yaml_path: str) -> tuple[yaml.Node, yaml.Node]:
    """Along ``yaml_path`` as far as the document goes: (the node to point at, its value).

    A mapping key is pointed at by its key (the line a reader looks for); a grouped warning's
    path (``stages.x[0] and 3 more entries``) by its first entry.
    """
    where, value = root, root
    for key, index in _TOKEN.findall(yaml_path.split(" ", 1)[0]):
        if index and isinstance(value, yaml.SequenceNode) and int(index) < len(value.value):
            where = value = value.value[int(index)]
        elif key and isinstance(value, yaml.MappingNode):
            pair = next((p for p in value.value if p[0].value == key), None)
            if pair is None:
                break
            where, value = pair
        else:
            break
    return where, value


def _position(root: yaml.Node, issue: ConfigIssue) -> yaml.Mark | None:
    """The issue's mark; None when its path names nothing in the document (another file's)."""
    where, value = _walk(root, issue.path)
    unknown = _UNKNOWN_KEY.search(issue.message)
    if unknown and isinstance(value, yaml.MappingNode):
        where = next((k for k, _ in value.value if k.value == unknown.group(1)), where)
    if where is root and issue.path:
        return None
    return where.start_mark


def with_positions(text: str, issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """``issues`` with ``line``/``column`` (1-based) filled in where their YAML path leads."""
    try:
        root = yaml.compose(text, Loader=ProductionYamlLoader)
    except yaml.YAMLError:
        return issues
    if root is None:
        return issues
    located = []
    for issue in issues:
        mark = _position(root, issue) if issue.line is None else None
        if mark is not None:
            issue = replace(issue, line=mark.line + 1, column=mark.column + 1)
        located.append(issue)
    return located
