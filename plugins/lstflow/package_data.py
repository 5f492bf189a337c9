"""Files shipped inside the lstflow package (templates, default configs), read with
``importlib.resources``: an installed lstflow finds them wherever pip put it, with no checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2


def package_file(package: str, *parts: str) -> Path:
    """The path of a data file of ``package`` (wheels are installed unzipped, so it is a file).

    Needed where a file names its neighbours (the onsite config and its exclusions file).
    """
    resource = files(package).joinpath(*parts)
    path = Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(f"{package}: package data {'/'.join(parts)} is missing ({path})")
    return path


def template_loader(package: str, folder: str = "templates") -> jinja2.BaseLoader:
    """A jinja2 loader of the templates in ``package/folder``."""
    import jinja2

    root = files(package).joinpath(folder)

    def load(name: str) -> str:
        return root.joinpath(name).read_text(encoding="utf-8")

    return jinja2.FunctionLoader(load)
