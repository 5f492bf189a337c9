"""Render the sbatch script of one job array from the package template ``array.sbatch.j2``.

One script serves a whole chunk: a ``case`` on ``$SLURM_ARRAY_TASK_ID`` picks the element's
command, so retrying elements 3 and 17 is ``sbatch --array=3,17`` on the same file.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from functools import cache

import jinja2

from lstflow.package_data import template_loader
from lstflow.workitems import WorkItem

TEMPLATE_NAME = "array.sbatch.j2"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=template_loader("lstflow.slurm"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # shell, not HTML: quoting is done by the filters below
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["q"] = shlex.quote
    environment.filters["argv"] = _join_argv
    return environment


def _join_argv(argv: Sequence[str]) -> str:
    if not argv:
        raise ValueError("an empty command line cannot run")
    return shlex.join(argv)


def render_array_script(
    name: str,
    items: Sequence[WorkItem],
    prologue: Sequence[Sequence[str]] = (),
    env: Sequence[tuple[str, str]] = (),
) -> str:
    """The script whose element ``i`` runs ``items[i].argv`` after ``prologue`` with ``env``."""
    if not name.isprintable():  # a newline would end the script's comment line that names it
        raise ValueError(f"array name {name!r} holds a newline or control character")
    for key, _ in env:
        if not _ENV_NAME.fullmatch(key):
            raise ValueError(
                f"array {name!r}: environment variable name {key!r} is not a valid shell name; "
                "use letters, digits and '_' (not starting with a digit)"
            )
    for item in items:
        if not item.argv:
            raise ValueError(f"array {name!r}: work item {item.key!r} has an empty command line")
    template = _environment().get_template(TEMPLATE_NAME)
    return template.render(name=name, items=items, prologue=prologue, env=env)
