"""sacct accounting rows (as Slurm 22.05 prints them) → typed rows and job_information.csv."""

from __future__ import annotations

import pytest

from lstflow.slurm.accounting import (
    ACCOUNTING_FIELDS,
    job_information_csv,
    parse_accounting,
    sacct_accounting_argv,
)
from lstflow.slurm.elements import ElementId, SlurmOutputError

pytestmark = pytest.mark.unit

RECORDED = """\
120_0|lst1_20200117_v0.12.3_r0_to_dl1_01807|00:00:08|8|00:00:08|00:00.002||COMPLETED|0:0
120_0.batch|batch|00:00:09|9|00:00:09|00:00.002|0.00G|COMPLETED|0:0
121_[0-2]|lst1_20200117_v0.12.3_dl1ab_01807|00:00:00|0|00:00:00|00:00:00||PENDING|0:0
122|lst1_20200117_v0.12.3_night_close|00:01:01|61|00:01:01|00:00.010||FAILED|1:0
"""


def test_allocation_rows_stand_for_their_elements_step_rows_for_none() -> None:
    rows = parse_accounting(RECORDED)
    assert [row.elements for row in rows] == [
        (ElementId("120", 0),),
        (),
        (ElementId("121", 0), ElementId("121", 1), ElementId("121", 2)),
        (ElementId("122", None),),
    ]
    assert (rows[3].cpu_seconds, rows[3].state, rows[3].exit_code) == (61, "FAILED", "1:0")
    assert rows[1].max_rss == "0.00G"


def test_job_information_csv_has_lstosa_columns_and_every_row() -> None:
    lines = job_information_csv(parse_accounting(RECORDED)).splitlines()
    assert lines[0] == ",".join(ACCOUNTING_FIELDS)
    assert lines[0] == "JobID,JobName,CPUTime,CPUTimeRAW,Elapsed,TotalCPU,MaxRSS,State,ExitCode"
    assert lines[2] == "120_0.batch,batch,00:00:09,9,00:00:09,00:00.002,0.00G,COMPLETED,0:0"
    assert len(lines) == 5


def test_argv_asks_for_the_jobs_only() -> None:
    assert sacct_accounting_argv(["120", "122"])[4:6] == ["-j", "120,122"]


@pytest.mark.parametrize("line", ["120|x|00:00:01|1|1", "120|x|00:00:01|abc|1|1|1G|COMPLETED|0:0"])
def test_unreadable_rows_are_errors(line: str) -> None:
    with pytest.raises(SlurmOutputError, match="sacct printed"):
        parse_accounting(line)
