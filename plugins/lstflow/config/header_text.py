"""Cut a production YAML's entries out of its text, so only its small header is YAML-parsed.

The entries (``stages.<stage>[...]``) are 99 % of a config; the DAG factory needs only the
header and the stage names. ``split_header`` returns the text with the entry lines blanked (same
line numbers, so YAML messages are unchanged) and the stage names, read line by line; it gives
up (``None``, meaning: parse the whole document) on anything that is not a plain block mapping
with one ``stages:`` key whose stages are known names holding block lists, and on any line
where YAML could carry a value over to the next line (an open quote or bracket), so a line
that looks like a stage name is always one.
"""

from __future__ import annotations

import re

from lstflow.config.model import STAGE_ORDER

# A top-level line, found after its line break: not indented, not a comment.
_TOP_LINE = re.compile(r"\n([^ \n#][^\n]*)")
# A list item, written at the indentation of its key or deeper.
_ITEM = re.compile(r"-(?: |\Z)")
# Allowed top-level lines besides items: a plain key then a space and its value, or nothing.
_TOP_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*:(?: [^\n]*)?\Z")
_STAGES_KEY = re.compile(r"stages:(?: +(?:#[^\n]*)?)?\Z")
# A value in the entries starting with what may open a multi-line value (a quote, a bracket, a
# block scalar) or is not plain (alias, reserved or misplaced indicator) is allowed only as a
# string quoted and closed on its own line.
_VALUE_OPENERS = "{}[]*@`%,|>\"'"
_ONE_LINE_STRING = re.compile(
    r"(?:\"(?:[^\"\\\n]|\\[^\n])*\"|'(?:[^'\n]|'')*')(?: *| +#[^\n]*)(?:\n|\Z)"
)
# The next line with content (blank and comment lines skipped), found from a line break.
_NEXT_LINE = re.compile(r"(?:\n *(?:#[^\n]*)?(?=\n))*\n( *)([^ \n#][^\n]*)")
_STAGE_KEY = re.compile(r"([a-z0-9_]+):(?: +(?:#[^\n]*)?)?\Z")


def split_header(text: str) -> tuple[str, tuple[str, ...]] | None:
    """(``text`` with the entry lines blank, the stage names in file order), or ``None``."""
    # Anchors, tags, tabs, other line breaks, control characters: not plain. (Python's
    # printable characters are a subset of YAML's, so what YAML refuses is left to it.)
    if "&" in text or "!" in text or not text.replace("\n", " ").isprintable():
        return None
    text_nl = "\n" + text  # every line, the first too, starts after a line break
    tops = [top for top in _TOP_LINE.finditer(text_nl) if not _ITEM.match(top.group(1))]
    if not all(_TOP_KEY.match(top.group(1)) for top in tops):
        return None
    stages = [index for index, top in enumerate(tops) if _STAGES_KEY.match(top.group(1))]
    if len(stages) != 1:
        return None
    start = tops[stages[0]].end()  # the stages line's break, in text_nl
    end = tops[stages[0] + 1].start() if stages[0] + 1 < len(tops) else len(text_nl)
    body = text_nl[start:end]
    if not _plain_values(body):
        return None
    names = _stage_names(body)
    if names is None:
        return None
    return text[: start - 1] + "\n" * body.count("\n") + text[end - 1 :], names


def _plain_values(body: str) -> bool:
    """No value in ``body`` starts with an opener, except strings closed on their line.

    ``str.find`` per opener (a memchr) rather than one regex: openers are rare, lines many.
    """
    for opener in _VALUE_OPENERS:
        at = body.find(opener)
        while at != -1:
            before = at - 1
            while before > 0 and body[before] == " ":
                before -= 1
            if body[before] in "\n:-" and not _ONE_LINE_STRING.match(body, at):
                return False
            at = body.find(opener, at + 1)
    return True


def _stage_names(body: str) -> tuple[str, ...] | None:
    """The keys at the first indentation of ``body``, each holding a block list, or ``None``.

    ``body`` starts with a line break.
    """
    first = _NEXT_LINE.match(body)
    if first is None or not first.group(1) or _ITEM.match(first.group(2)):
        return None
    indent = len(first.group(1))
    # Lines indented at most as much as the first, except the items of a list written there.
    shallow = re.compile(rf"\n( {{0,{indent}}})(?![ #\n]|-(?: |\n|\Z))([^\n]+)")
    names: list[str] = []
    for line in shallow.finditer(body):
        key = _STAGE_KEY.match(line.group(2))
        if len(line.group(1)) != indent or key is None:
            return None
        if key.group(1) not in STAGE_ORDER or key.group(1) in names:
            return None
        # The value must be a block list: its first line an item, at this indentation or deeper.
        value = _NEXT_LINE.match(body, line.end())
        if value is None or len(value.group(1)) < indent or not _ITEM.match(value.group(2)):
            return None
        names.append(key.group(1))
    return tuple(names)
