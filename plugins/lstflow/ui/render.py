"""HTML rendering of the pages: jinja2 templates under ``templates/``, autoescaped."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jinja2

from lstflow.package_data import template_loader


def human_bytes(size: float | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


_RUN_ID = re.compile(r"(?P<kind>[a-z_]+)__(?P<date>\d{4}-\d\d-\d\d)T(?P<time>\d\d:\d\d:\d\d)")


def readable_run_id(run_id: str) -> str:
    """``manual__2026-12-06T04:25:14.123456+00:00`` -> ``manual 2026-12-06 04:25:14``."""
    match = _RUN_ID.match(run_id)
    if match is None:
        return run_id
    return f"{match['kind']} {match['date']} {match['time']}"


def readme_title(readme: str) -> str:
    """The README's first non-empty line without its markdown heading marks."""
    for line in readme.splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip() or "README"
    return "README"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=template_loader("lstflow.ui"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["bytes"] = human_bytes
    env.filters["run_label"] = readable_run_id
    env.filters["readme_title"] = readme_title
    return env


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)
