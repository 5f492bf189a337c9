"""``ClusterFiles``: the files of the cluster's filesystem, reached over the Slurm connection.

The one way lstflow's Airflow side reads or writes cluster files: stage planners list input
directories, the stage operator checks outputs, provenance measures sizes, the nightly DAG
writes its status and the UI reads plots. Every shell snippet here is fixed text; paths travel
NUL-separated on stdin or are ``shlex``-quoted, and every read is bounded in size.
"""

from __future__ import annotations

import base64
import fnmatch
import io
import posixpath
import shlex
import tarfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lstflow.slurm.hook import SlurmHook

#: The largest file ``read`` returns; bigger files read as missing.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: The most of a log tail ``tail`` returns per file, whatever its line lengths.
TAIL_MAX_BYTES = 64 * 1024
#: The most one ``listings`` call returns (about a million names): more is refused, not cut.
LISTING_MAX_BYTES = 64 * 1024 * 1024

# For each directory on stdin: D<dir>, then F<name> per file and S<name> per subdirectory
# (symlinks followed, the directory's own too: -H), or M<dir> if missing; the whole output is
# capped (see LISTING_MAX_BYTES).
_LIST_SNIPPET = (
    "{ while IFS= read -r -d '' d; do "
    'if [ -d "$d" ]; then printf \'D%s\\0\' "$d"; '
    "find -H \"$d\" -mindepth 1 -maxdepth 1 \\( -xtype f -printf 'F%f\\0' \\) "
    "-o \\( -xtype d -printf 'S%f\\0' \\); "
    "else printf 'M%s\\0' \"$d\"; fi; done; } | head -c " + str(LISTING_MAX_BYTES + 1)
)
# For each path on stdin: R<path>, its base64 and a NUL when it is a file of at most $1 bytes,
# else N<path> and an empty record.
_READ_SNIPPET = (
    "while IFS= read -r -d '' p; do "
    'if [ -f "$p" ] && [ "$(stat -L -c %s -- "$p")" -le "$1" ] && [ -r "$p" ]; then '
    "printf 'R%s\\0' \"$p\"; base64 -w0 -- \"$p\"; printf '\\0'; "
    "else printf 'N%s\\0\\0' \"$p\"; fi; done; true"
)
# For each path on stdin: the path and its canonical path (empty if it does not exist).
_REALPATH_SNIPPET = (
    "while IFS= read -r -d '' p; do "
    'printf \'%s\\0%s\\0\' "$p" "$(realpath -e -- "$p" 2>/dev/null)"; done; true'
)
# Unpack a tar stream from stdin, member names as paths (-P: absolute ones too), as the SSH
# user, with the umask's permissions.
_UNTAR_SNIPPET = "tar -x -P -m --no-same-owner --no-same-permissions -f -"
_EXISTS_SNIPPET = (
    "while IFS= read -r -d '' p; do [ -e \"$p\" ] && printf '%s\\0' \"$p\"; done; true"
)
# For each path on stdin: its kind (f, d or m for missing) then the path.
_KINDS_SNIPPET = (
    "while IFS= read -r -d '' p; do "
    'if [ -d "$p" ]; then k=d; elif [ -f "$p" ]; then k=f; else k=m; fi; '
    'printf \'%s%s\\0\' "$k" "$p"; done; true'
)
_KIND_NAMES = {"f": "file", "d": "directory", "m": "missing"}
# For each regular file on stdin: its version (modification time, size, inode) then the path.
_VERSIONS_SNIPPET = (
    "while IFS= read -r -d '' p; do "
    '[ -f "$p" ] && printf \'%s\\0%s\\0\' "$(stat -L -c \'%y %s %i\' -- "$p")" "$p"; done; true'
)
# For each path on stdin: kind, size in bytes, file count, path.
_SIZES_SNIPPET = (
    "while IFS= read -r -d '' p; do "
    "if [ -d \"$p\" ]; then printf 'dir\\0%s\\0%s\\0%s\\0' "
    '"$(du -sb -- "$p" | cut -f1)" "$(find "$p" -type f | wc -l)" "$p"; '
    'elif [ -e "$p" ]; then printf \'file\\0%s\\0%s\\0%s\\0\' "$(stat -L -c %s -- "$p")" 1 "$p"; '
    "else printf 'missing\\0\\0\\0%s\\0' \"$p\"; fi; done; true"
)


@dataclass(frozen=True)
class DirectoryListing:
    """One directory level: the names of its files and of its subdirectories (symlinks
    followed to what they point at)."""

    files: frozenset[str]
    directories: frozenset[str]


@dataclass(frozen=True)
class PathSize:
    """A path's kind (``file``, ``dir``, ``missing``), bytes and file count."""

    path: str
    kind: str
    size: int | None = None
    files: int | None = None


def _stdin(paths: Iterable[str]) -> bytes:
    return "".join(f"{path}\0" for path in paths).encode()


#: Exit status of ``no_clobber_moves`` when a target exists: nothing past it was moved.
TARGET_EXISTS = 17


class ListingTooLarge(RuntimeError):
    """A listing's output passed ``LISTING_MAX_BYTES``: nothing is returned rather than a cut."""


class TargetExists(RuntimeError):
    """A rename aside found its target taken: nothing was replaced."""


def no_clobber_moves(moves: Sequence[tuple[str, str]]) -> str:
    """One shell line renaming each ``(source, target)``, never replacing an existing target.

    An existing target (or a source ``mv -n`` left in place) stops the line with
    ``TARGET_EXISTS`` and names the path.
    """
    steps = []
    for source, target in moves:
        src, dst = shlex.quote(source), shlex.quote(target)
        message = shlex.quote(f"{source} not renamed: {target} exists or mv failed")
        refuse = f"{{ echo {message} >&2; exit {TARGET_EXISTS}; }}"
        steps.append(
            f"{{ [ ! -e {dst} ] && [ ! -L {dst} ] && mv -n -- {src} {dst} && [ ! -e {src} ]; }}"
            f" || {refuse}"
        )
    return "; ".join(steps)


class ClusterFiles:
    """List, test, measure, read (bounded), write and create files on the cluster."""

    def __init__(self, hook: SlurmHook) -> None:
        self.hook = hook

    def listings(self, directories: Sequence[str]) -> dict[str, DirectoryListing | None]:
        """Each directory's file and subdirectory names, or None if it is missing, in one SSH
        call (``ListingTooLarge`` past ``LISTING_MAX_BYTES``)."""
        wanted = list(dict.fromkeys(directories))
        if not wanted:
            return {}
        output = self.hook.check(_LIST_SNIPPET, stdin=_stdin(wanted)).stdout
        if len(output.encode()) > LISTING_MAX_BYTES:
            raise ListingTooLarge(
                f"listing {len(wanted)} directories ({wanted[:3]}...) gave more than "
                f"{LISTING_MAX_BYTES} bytes: list fewer directories at once"
            )
        found: dict[str, tuple[set[str], set[str]] | None] = {}
        current: tuple[set[str], set[str]] | None = None
        for record in filter(None, output.split("\0")):
            kind, name = record[0], record[1:]
            if kind == "D":
                current = found[name] = (set(), set())
            elif kind == "M":
                found[name] = current = None
            elif current is not None:
                current[0 if kind == "F" else 1].add(name)
        return {
            directory: None
            if (entries := found.get(directory)) is None
            else DirectoryListing(frozenset(entries[0]), frozenset(entries[1]))
            for directory in wanted
        }

    def list_directories(
        self, directories: Sequence[str], patterns: Sequence[str]
    ) -> dict[str, list[str] | None]:
        """Per directory, its sorted files matching a glob pattern, or None if it is missing."""
        return {
            directory: None
            if listing is None
            else sorted(
                posixpath.join(directory, name)
                for name in listing.files
                if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
            )
            for directory, listing in self.listings(directories).items()
        }

    def existing(self, paths: Iterable[str]) -> set[str]:
        """Which of ``paths`` exist, in one SSH call."""
        wanted = list(paths)
        if not wanted:
            return set()
        output = self.hook.check(_EXISTS_SNIPPET, stdin=_stdin(wanted)).stdout
        return {path for path in output.split("\0") if path}

    def kinds(self, paths: Iterable[str]) -> dict[str, str]:
        """Each path's kind: ``file``, ``directory`` or ``missing``, in one SSH call (cheap:
        nothing is listed or measured, unlike ``sizes``)."""
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        output = self.hook.check(_KINDS_SNIPPET, stdin=_stdin(wanted)).stdout
        return {
            record[1:]: _KIND_NAMES[record[0]]
            for record in output.split("\0")
            if record and record[0] in _KIND_NAMES
        }

    def versions(self, paths: Iterable[str]) -> dict[str, str]:
        """A version of each regular file among ``paths`` (modification time to the
        nanosecond, size, inode: a rewrite or a rename over it changes it), in one SSH call;
        missing paths are left out."""
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        return parse_versions(self.hook.check(_VERSIONS_SNIPPET, stdin=_stdin(wanted)).stdout)

    def sizes(self, paths: Sequence[str]) -> dict[str, PathSize]:
        """Kind, size and file count of each path (directories summed), in one SSH call."""
        if not paths:
            return {}
        return parse_sizes(self.hook.check(_SIZES_SNIPPET, stdin=_stdin(paths)).stdout)

    def read(self, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes | None:
        """The file's bytes, or ``None`` if it is missing, unreadable or over ``max_bytes``."""
        return self.read_files([path], max_bytes)[path]

    def read_files(
        self, paths: Sequence[str], max_bytes: int = DEFAULT_MAX_BYTES
    ) -> dict[str, bytes | None]:
        """``read`` of several files in one SSH call; each is bounded by ``max_bytes``."""
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        snippet = f"set -- {int(max_bytes)}; {_READ_SNIPPET}"
        parts = self.hook.check(snippet, stdin=_stdin(wanted)).stdout.split("\0")
        contents: dict[str, bytes | None] = {}
        for i in range(0, len(parts) - 1, 2):
            head, body = parts[i], parts[i + 1]
            contents[head[1:]] = base64.b64decode(body) if head[:1] == "R" else None
        return {path: contents.get(path) for path in wanted}

    def real_paths(self, paths: Sequence[str]) -> dict[str, str | None]:
        """Each path with every symlink resolved (``realpath``), None if it does not exist, in
        one SSH call."""
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        parts = self.hook.check(_REALPATH_SNIPPET, stdin=_stdin(wanted)).stdout.split("\0")
        resolved = {parts[i]: parts[i + 1] or None for i in range(0, len(parts) - 1, 2)}
        return {path: resolved.get(path) for path in wanted}

    def write(self, path: str, content: str) -> None:
        """Write ``content`` to ``path`` atomically (temp file + rename), creating its dir."""
        quoted = shlex.quote(path)
        tmp = shlex.quote(f"{path}.lstflow-tmp")
        snippet = f'mkdir -p -- "$(dirname -- {quoted})" && cat > {tmp} && mv -f -- {tmp} {quoted}'
        self.hook.check(snippet, stdin=content.encode())

    def write_all(self, contents: Mapping[str, str]) -> None:
        """Write every ``path: content`` in one round trip, creating their directories.

        One tar stream on stdin, unpacked as given (absolute or home-relative paths): a new
        run's scripts, records and manifests cost one SSH command, not one each. Unlike
        ``write``, not atomic per file: meant for files nobody reads before they are complete.
        """
        if not contents:
            return
        buffer = io.BytesIO()
        now = time.time()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for path, content in contents.items():
                data = content.encode()
                member = tarfile.TarInfo(path)
                member.size, member.mode, member.mtime = len(data), 0o644, now
                archive.addfile(member, io.BytesIO(data))
        self.hook.check(_UNTAR_SNIPPET, stdin=buffer.getvalue())

    def make_dirs(self, paths: Sequence[str]) -> None:
        """``mkdir -p`` every path; paths travel on stdin, as a command line holds 128 KiB."""
        if paths:
            self.hook.check("xargs -0 mkdir -p --", stdin=_stdin(paths))

    def move_aside(self, paths: Sequence[str], suffix: str) -> None:
        """Rename each path to ``<path><suffix>``: outputs are never deleted, and a target
        that exists is never replaced (``TargetExists``; the paths before it were moved)."""
        if not paths:
            return
        result = self.hook.run(no_clobber_moves([(path, path + suffix) for path in paths]))
        if result.exit_status == TARGET_EXISTS:
            raise TargetExists(result.stderr.strip())
        result.raise_for_status()

    def tail(self, paths: Sequence[str], lines: int = 20) -> dict[str, str]:
        """The last ``lines`` lines of each file, in one SSH call; missing files give ''."""
        if not paths:
            return {}
        quoted = " ".join(shlex.quote(path) for path in paths)
        snippet = (
            f"for f in {quoted}; do printf '\\0%s\\0' \"$f\"; "
            f'tail -n {int(lines)} -- "$f" 2>/dev/null | tail -c {TAIL_MAX_BYTES}; done; true'
        )
        parts = self.hook.check(snippet).stdout.split("\0")[1:]
        return {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def parse_sizes(output: str) -> dict[str, PathSize]:
    """Records ``kind\\0size\\0files\\0path\\0`` of the sizes snippet, by path."""
    parts = output.split("\0")
    rows: dict[str, PathSize] = {}
    for i in range(0, len(parts) - 3, 4):
        kind, size, files, path = parts[i : i + 4]
        rows[path] = PathSize(
            path,
            kind.strip(),
            int(size) if size.isdigit() else None,
            int(files) if files.isdigit() else None,
        )
    return rows


def parse_versions(output: str) -> dict[str, str]:
    """Records ``version\\0path\\0`` of the versions snippet, by path."""
    parts = output.split("\0")
    return {parts[i + 1]: parts[i] for i in range(0, len(parts) - 1, 2) if parts[i]}


def _sorted(files: list[str] | None) -> list[str] | None:
    return None if files is None else sorted(files)
