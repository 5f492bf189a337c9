"""Installed software versions, for provenance records on both sides.

Standard library only: the Airflow side (``lstflow.productions.run_provenance``) imports it,
and an Airflow installation has none of the job side's packages (``prov``, lstchain).
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata

#: The analysis stack a job records.
ANALYSIS_SOFTWARE = ("lstchain", "ctapipe", "ctapipe_io_lst", "numpy", "astropy")


def software_versions(names: Sequence[str] = ANALYSIS_SOFTWARE) -> dict[str, str | None]:
    """Python's and each distribution's installed version (``None`` if not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
