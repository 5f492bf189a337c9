"""HTML rendering of the pages: jinja2 templates under ``templates/``, autoescaped."""

from __future__ import annotations

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
    return env


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)
