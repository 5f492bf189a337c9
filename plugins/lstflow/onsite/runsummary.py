"""The night's run list (RunSummary ECSV) and the run → source map (RunCatalog ECSV)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lstflow.onsite.ecsv import EcsvTable, parse_ecsv
from lstflow.onsite.errors import OnsiteError
from lstflow.onsite.files import MAX_TEXT_BYTES, NightFiles

RUN_TYPES = ("DATA", "PEDCALIB", "DRS4", "ERROR")


@dataclass(frozen=True)
class RunSummaryRow:
    """One run as lstchain_create_run_summary saw it; ``n_subruns`` is only the summary's claim."""

    run_id: int
    n_subruns: int
    run_type: str
    run_start: int | None


@dataclass(frozen=True)
class SourceInfo:
    """What the RunCatalog says about a run: ``dec`` is the pointing declination in degrees."""

    name: str
    ra: float | None
    dec: float | None


def _require_columns(table: EcsvTable, path: Path, needed: tuple[str, ...]) -> None:
    missing = [name for name in needed if name not in table.columns]
    if missing:
        raise OnsiteError(f"{path}: missing columns {missing}; present: {list(table.columns)}")


def read_ecsv(files: NightFiles, path: Path) -> EcsvTable:
    text = files.read_text(path)
    if text is None:
        raise OnsiteError(
            f"{path}: cannot read ECSV file (missing, unreadable or over {MAX_TEXT_BYTES} bytes)"
        )
    return parse_ecsv(text, path)


def read_run_summary(files: NightFiles, path: Path) -> tuple[RunSummaryRow, ...]:
    """All runs of a night, sorted by run id."""
    table = read_ecsv(files, path)
    _require_columns(table, path, ("run_id", "n_subruns", "run_type"))
    rows = []
    for row in table.rows:
        run_id, n_subruns, run_start = row["run_id"], row["n_subruns"], row.get("run_start")
        if not isinstance(run_id, int) or not isinstance(n_subruns, int):
            raise OnsiteError(f"{path}: run_id and n_subruns must be integers, got {row}")
        rows.append(
            RunSummaryRow(
                run_id=run_id,
                n_subruns=n_subruns,
                run_type=str(row["run_type"]),
                run_start=run_start if isinstance(run_start, int) else None,
            )
        )
    return tuple(sorted(rows, key=lambda r: r.run_id))


def _optional_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def read_run_catalog(files: NightFiles, path: Path) -> dict[int, SourceInfo]:
    """Run id → source; an absent catalog gives an empty map (sources are then unknown)."""
    if not files.exists(path):
        return {}
    table = read_ecsv(files, path)
    _require_columns(table, path, ("run_id", "source_name"))
    catalog = {}
    for row in table.rows:
        run_id = row["run_id"]
        if not isinstance(run_id, int):
            raise OnsiteError(f"{path}: run_id must be an integer, got {run_id!r}")
        catalog[run_id] = SourceInfo(
            name=str(row["source_name"] or ""),
            ra=_optional_float(row.get("source_ra")),
            dec=_optional_float(row.get("source_dec")),
        )
    return catalog
