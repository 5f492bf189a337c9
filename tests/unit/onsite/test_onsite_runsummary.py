"""The stdlib ECSV reader agrees with astropy on RunSummary and RunCatalog files."""

from __future__ import annotations

from pathlib import Path

import pytest
from astropy.table import Table

from lstflow.onsite.errors import OnsiteError
from lstflow.onsite.runsummary import read_ecsv, read_run_catalog, read_run_summary
from lstflow_dev.local_onsite_files import local_night_files

pytestmark = pytest.mark.unit


def test_synthetic_run_summary_reads_the_same_with_astropy(onsite_base: Path) -> None:
    path = onsite_base / "monitoring/RunSummary/RunSummary_20200117.ecsv"
    ours = read_ecsv(local_night_files(), path)
    theirs = Table.read(path, format="ascii.ecsv")
    assert list(ours.columns) == theirs.colnames
    assert [list(r.values()) for r in ours.rows] == [list(r) for r in theirs.as_array().tolist()]
    assert ours.meta == dict(theirs.meta)


def test_astropy_written_run_summary_is_read(tmp_path: Path) -> None:
    table = Table(
        {
            "run_id": [2005, 2001],
            "n_subruns": [7, 1],
            "run_type": ["DATA", "DRS4"],
            "run_start": [1_700_000_000_000_000_000, 1_699_999_000_000_000_000],
        },
        meta={"date": "2023-11-14", "lstchain_version": "0.12.3"},
    )
    path = tmp_path / "RunSummary_20231114.ecsv"
    table.write(path, format="ascii.ecsv", delimiter=",")
    rows = read_run_summary(local_night_files(), path)
    assert [(r.run_id, r.n_subruns, r.run_type) for r in rows] == [
        (2001, 1, "DRS4"),
        (2005, 7, "DATA"),
    ]
    assert rows[1].run_start == 1_700_000_000_000_000_000
    assert read_ecsv(local_night_files(), path).meta == {
        "date": "2023-11-14",
        "lstchain_version": "0.12.3",
    }


def test_run_catalog_gives_source_and_declination(onsite_base: Path) -> None:
    catalog = read_run_catalog(
        local_night_files(), onsite_base / "monitoring/RunCatalog/RunCatalog_20200119.ecsv"
    )
    assert catalog[1813].name == "SgrA"
    assert catalog[1813].dec == pytest.approx(-29.0078)


def test_missing_run_catalog_means_unknown_sources(tmp_path: Path) -> None:
    assert read_run_catalog(local_night_files(), tmp_path / "RunCatalog_20200101.ecsv") == {}


def test_not_an_ecsv_file_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "RunSummary_20200101.ecsv"
    path.write_text("run_id,n_subruns\n1,2\n")
    with pytest.raises(OnsiteError, match=r"RunSummary_20200101\.ecsv: not an ECSV file"):
        read_run_summary(local_night_files(), path)


def test_run_summary_without_run_type_column_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "RunSummary_20200101.ecsv"
    Table({"run_id": [1], "n_subruns": [2]}).write(path, format="ascii.ecsv")
    with pytest.raises(OnsiteError, match=r"missing columns \['run_type'\]"):
        read_run_summary(local_night_files(), path)
