"""A stdlib reader for astropy's ECSV tables.

The Airflow side must stay light (no astropy import in the scheduler or DAG processor), and the
RunSummary / RunCatalog files are plain ECSV: a YAML header in ``#`` comments, then CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lstflow.onsite.errors import OnsiteError

_INT_TYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})
_FLOAT_TYPES = frozenset({"float16", "float32", "float64", "float128"})

Cell = int | float | str | bool | None


@dataclass(frozen=True)
class EcsvTable:
    """Columns in file order, rows as dicts, and the table's ``meta`` mapping."""

    columns: tuple[str, ...]
    rows: tuple[dict[str, Cell], ...]
    meta: dict[str, Any]


def _convert(raw: str, datatype: str) -> Cell:
    if raw == "":
        return None
    if datatype in _INT_TYPES:
        return int(raw)
    if datatype in _FLOAT_TYPES:
        return float(raw)
    if datatype == "bool":
        return raw.strip().lower() in ("true", "1")
    return raw


def _meta_dict(meta: Any) -> dict[str, Any]:
    # astropy writes meta as ``!!omap``: PyYAML gives a list of (key, value) tuples for it
    if meta is None:
        return {}
    if isinstance(meta, list):
        result: dict[str, Any] = {}
        for pair in meta:
            result.update(pair if isinstance(pair, dict) else [pair])
        return result
    return dict(meta)


def parse_ecsv(text: str, path: Path) -> EcsvTable:
    """Parse the text of the ECSV file ``path``; raises ``OnsiteError`` naming the file when it
    is not valid ECSV."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# %ECSV"):
        raise OnsiteError(f"{path}: not an ECSV file (first line must start with '# %ECSV')")
    header_lines = [
        line[2:] if line.startswith("# ") else line[1:]
        for line in lines[1:]
        if line.startswith("#")
    ]
    body = [line for line in lines[1:] if not line.startswith("#")]
    try:
        header = yaml.safe_load("\n".join(header_lines)) or {}
    except yaml.YAMLError as exc:
        raise OnsiteError(f"{path}: invalid ECSV YAML header ({exc})") from exc
    datatypes = {
        col["name"]: str(col.get("datatype", "string")) for col in header.get("datatype", [])
    }
    delimiter = str(header.get("delimiter", " "))
    reader = csv.reader(io.StringIO("\n".join(body)), delimiter=delimiter, skipinitialspace=True)
    records = [record for record in reader if record]
    if not records:
        raise OnsiteError(f"{path}: ECSV file has no column-name line")
    columns = tuple(records[0])
    missing = [name for name in datatypes if name not in columns]
    if missing:
        raise OnsiteError(f"{path}: columns {missing} declared in the header are not in the data")
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if len(record) != len(columns):
            raise OnsiteError(
                f"{path}: data line {number} has {len(record)} fields, expected {len(columns)}"
            )
        rows.append(
            {
                name: _convert(value, datatypes.get(name, "string"))
                for name, value in zip(columns, record, strict=True)
            }
        )
    return EcsvTable(columns=columns, rows=tuple(rows), meta=_meta_dict(header.get("meta")))
