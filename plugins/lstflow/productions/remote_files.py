"""A ``FileLister`` that lists the cluster's directories over SSH, all in one command."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Sequence

from lstflow.slurm.hook import SlurmHook

# Directories travel on stdin, NUL-separated: no path is ever part of the shell text.
_LIST_SNIPPET = (
    "while IFS= read -r -d '' d; do "
    'if [ -d "$d" ]; then printf \'D%s\\0\' "$d"; '
    "find \"$d\" -mindepth 1 -maxdepth 1 -xtype f -printf 'F%p\\0'; "
    "else printf 'M%s\\0' \"$d\"; fi; done"
)


class RemoteFileLister:
    def __init__(self, hook: SlurmHook) -> None:
        self.hook = hook

    def list_directories(
        self, directories: Sequence[str], patterns: Sequence[str]
    ) -> dict[str, list[str] | None]:
        wanted = list(dict.fromkeys(directories))
        if not wanted:
            return {}
        payload = "".join(f"{directory}\0" for directory in wanted).encode()
        output = self.hook.check(_LIST_SNIPPET, stdin=payload).stdout
        listings: dict[str, list[str] | None] = {}
        current: list[str] | None = None
        for record in filter(None, output.split("\0")):
            kind, path = record[0], record[1:]
            if kind == "D":
                current = listings[path] = []
            elif kind == "M":
                listings[path] = None
            elif current is not None and any(
                fnmatch.fnmatchcase(posixpath.basename(path), pattern) for pattern in patterns
            ):
                current.append(path)
        return {directory: _sorted(listings.get(directory)) for directory in wanted}


def _sorted(files: list[str] | None) -> list[str] | None:
    return None if files is None else sorted(files)
