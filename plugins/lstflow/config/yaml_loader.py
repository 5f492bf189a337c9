"""Read production YAML fast (libyaml) with YAML 1.2 scalars, as lstmcpipe's ruamel loader does.

PyYAML's default YAML 1.1 resolvers would turn the unquoted Slurm time ``11:30:00`` into the
sexagesimal integer 41400 (which Slurm reads as minutes), ``2024-01-22`` into a date and ``no``
into ``False``. This loader keeps those as strings, rejects duplicate keys (ruamel does too) and
refuses documents too big or too alias-heavy to be a production config.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import yaml

from lstflow.config.errors import ConfigError, ConfigIssue

try:
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

# The biggest real config is about 2 MB (3,400 entries); far beyond is a mistake or an attack.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# Real configs use no anchors; aliases that expand past this many nodes are a "billion laughs" bomb.
MAX_EXPANDED_NODES = 5_000_000


class ProductionYamlLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml parser + safe constructor + YAML 1.2 core-schema implicit types."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{key_node.value}'", key_node.start_mark
                    )
                seen.add(key_node.value)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^<<$", "<"),
):
    ProductionYamlLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes the document has once every alias is expanded (memoised, so linear)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            sizes[id(node)] = 1
            continue
        if children_done:
            sizes[id(node)] = min(
                1 + sum(sizes[id(child)] for child in children), MAX_EXPANDED_NODES + 1
            )
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def parse_yaml(path: Path, data: bytes) -> Any:
    """The document in ``data`` (read from ``path``) as plain Python data, or ``ConfigError``."""
    return parse_text(path, decode(path, data))


def decode(path: Path, data: bytes) -> str:
    """The text of ``data``; ``ConfigError`` when too big or not UTF-8."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ConfigError(
            path,
            [
                ConfigIssue(
                    "",
                    f"file is {len(data) / 1e6:.1f} MB, more than the "
                    f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB a production config may have",
                    "split the production into several configs",
                )
            ],
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path,
            [ConfigIssue("", f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8")],
        ) from None
    return text


def parse_text(path: Path, text: str) -> Any:
    """The YAML document ``text`` (of ``path``, for messages) as plain Python data."""
    loader = ProductionYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        # Anchors need '&': the (usual) anchor-free document skips the alias walk entirely.
        if "&" in text and _expanded_size(node) > MAX_EXPANDED_NODES:
            raise ConfigError(
                path,
                [
                    ConfigIssue(
                        "",
                        f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes",
                        "write the entries out instead of repeating anchors",
                    )
                ],
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(path, [_yaml_issue(exc)]) from None
    finally:
        loader.dispose()


# libyaml's problem text -> what to do about it, for the mistakes people make in configs.
_FIXES: tuple[tuple[str, str], ...] = (
    (
        "mapping values are not allowed",
        "a value holding ': ' must be quoted, e.g. options: \"--a: b\"; or a key is indented "
        "under a line that has no ':'",
    ),
    ("cannot start any token", "indent with spaces: YAML does not allow tabs"),
    ("did not find expected key", "align the keys of one mapping at the same indentation"),
    (
        "did not find expected ',' or ']'",
        "close the list with ']' on the same logical line, or write one '- item' per line",
    ),
    ("did not find expected '-'", "align the '- ' items of one list at the same indentation"),
    ("undefined alias", "define the anchor (&name) before using *name, or write the value out"),
    ("unexpected end of stream", "close the quote that starts here"),
    ("another document", "a config is one YAML document: remove the '---' line"),
    ("duplicate key", "keep one of the two keys (lstmcpipe refuses duplicates too)"),
    ("could not determine a constructor", "remove the '!!' tag: configs hold plain values"),
)


def _yaml_issue(exc: yaml.YAMLError) -> ConfigIssue:
    """A YAML syntax error with its line and column, and a fix when the problem is a known one."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return ConfigIssue("", f"invalid YAML: {exc}", None)
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = " ".join(part for part in (exc.context, exc.problem) if part)
    fix = next((fix for known, fix in _FIXES if known in problem), "check indentation and quoting")
    return ConfigIssue(
        "",
        f"invalid YAML: {where}{problem}",
        fix,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )
