"""How the night planner reads the onsite tree: through ``OnsiteFiles``, never the local disk.

The onsite tree lives on the cluster; the Airflow worker that plans a night need not see it.
``OnsiteFiles`` is what the planner needs of a file access: the Slurm layer's ``ClusterFiles``
satisfies it over SSH (the nightly DAG passes it), a local-filesystem class in the development
tooling serves the unit tests. ``NightFiles`` sits in front for one planning call: it caches
every listing and read, and the planner asks it for whole batches of directories or files, so
planning a night costs a few SSH round trips whatever its number of runs and subruns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

#: The largest onsite text file the planner reads (RunSummary, RunCatalog, tail-cut results).
MAX_TEXT_BYTES = 8 * 1024 * 1024


class Listing(Protocol):
    """One directory level: file and subdirectory names, symlinks followed."""

    @property
    def files(self) -> frozenset[str]: ...

    @property
    def directories(self) -> frozenset[str]: ...


class OnsiteFiles(Protocol):
    """Batched, bounded reads of the onsite tree; every method is one round trip."""

    def listings(self, directories: Sequence[str]) -> Mapping[str, Listing | None]:
        """Each directory's listing, or None when it is missing."""
        ...

    def read_files(self, paths: Sequence[str], max_bytes: int) -> Mapping[str, bytes | None]:
        """Each file's bytes, or None when missing, unreadable or over ``max_bytes``."""
        ...

    def real_paths(self, paths: Sequence[str]) -> Mapping[str, str | None]:
        """Each path with its symlinks resolved, or None when it does not exist."""
        ...


class NightFiles:
    """The cached view of the onsite tree for one planning call (see the module docstring)."""

    def __init__(self, source: OnsiteFiles) -> None:
        self.source = source
        self._listings: dict[Path, Listing | None] = {}
        self._texts: dict[Path, str | None] = {}

    def prefetch(self, directories: Iterable[Path]) -> None:
        """List every directory not listed yet, in one round trip."""
        wanted = [d for d in dict.fromkeys(directories) if d not in self._listings]
        if wanted:
            found = self.source.listings([str(d) for d in wanted])
            self._listings.update((d, found.get(str(d))) for d in wanted)

    def prefetch_texts(self, paths: Iterable[Path]) -> None:
        """Read every file not read yet, in one round trip."""
        wanted = [p for p in dict.fromkeys(paths) if p not in self._texts]
        if wanted:
            found = self.source.read_files([str(p) for p in wanted], MAX_TEXT_BYTES)
            for path in wanted:
                data = found.get(str(path))
                self._texts[path] = None if data is None else data.decode(errors="replace")

    def listing(self, directory: Path) -> Listing | None:
        self.prefetch([directory])
        return self._listings[directory]

    def files(self, directory: Path) -> tuple[Path, ...]:
        """The directory's files, sorted; none when it is missing."""
        listing = self.listing(directory)
        return tuple(directory / name for name in sorted(listing.files if listing else ()))

    def directories(self, directory: Path) -> tuple[Path, ...]:
        """The directory's subdirectories, sorted; none when it is missing."""
        listing = self.listing(directory)
        return tuple(directory / name for name in sorted(listing.directories if listing else ()))

    def exists(self, path: Path) -> bool:
        """From the listing of its parent, so sibling checks share one round trip."""
        listing = self.listing(path.parent)
        return listing is not None and (
            path.name in listing.files or path.name in listing.directories
        )

    def read_text(self, path: Path) -> str | None:
        """The file's text, or None when it is missing, unreadable or too large."""
        self.prefetch_texts([path])
        return self._texts[path]

    def real_paths(self, paths: Sequence[Path]) -> dict[Path, Path | None]:
        """Symlinks resolved (a version directory behind a ``pro`` link), in one round trip."""
        found = self.source.real_paths([str(p) for p in paths]) if paths else {}
        return {p: None if (real := found.get(str(p))) is None else Path(real) for p in paths}
