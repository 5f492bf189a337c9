"""The README's ``[lstflow]`` options table names exactly the options the code reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

CHECKOUT = Path(__file__).resolve().parents[2]
READ = re.compile(r'conf\.get\w*\(\s*SECTION,\s*"(\w+)"')
ROW = re.compile(r"^\| `(\w+)` \|", re.MULTILINE)


def options_read_by_the_code() -> set[str]:
    package = CHECKOUT / "plugins" / "lstflow"
    return {name for path in package.rglob("*.py") for name in READ.findall(path.read_text())}


def options_in_the_readme() -> set[str]:
    readme = (CHECKOUT / "README.md").read_text()
    section = readme.split("## `[lstflow]` options", 1)[1].split("\n## ", 1)[0]
    return set(ROW.findall(section))


def test_readme_documents_every_option_and_no_other() -> None:
    read = options_read_by_the_code()
    assert "log_root" in read
    assert options_in_the_readme() == read
