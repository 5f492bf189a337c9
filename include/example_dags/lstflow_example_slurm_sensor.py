"""Example: wait for Slurm jobs lstflow did not submit, then go on.

During the migration from lstosa/lstmcpipe, the night's calibration may still be produced by
lstosa's own jobs. ``SlurmJobSensor`` waits for them by job name (or job id), job arrays
included, deferred on the triggerer's shared Slurm poller, and fails with the per-element
report if any element failed (``mode="fail_fast"``: without waiting for the others).

Copy it into the DAGs folder and set the job names your jobs are submitted with.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, task

from lstflow.slurm.policy import PollSettings
from lstflow.slurm.reports import SlurmReport
from lstflow.slurm.sensor import SlurmJobSensor

with DAG(
    dag_id="lstflow_example_slurm_sensor",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    tags=["example", "slurm"],
    doc_md=__doc__,
) as dag:
    lstosa_calibration = SlurmJobSensor(
        task_id="wait_for_lstosa_calibration",
        job_names=["LST1_calibration_20200117"],
        mode="fail_fast",
        poll=PollSettings(poll_interval=60, max_poll_interval=600),
        timeout=dt.timedelta(hours=12),
    )

    @task
    def calibration_ready(report: dict[str, object]) -> None:
        print(f"lstosa's calibration jobs {SlurmReport.from_json(report).job_ids} completed")

    calibration_ready(lstosa_calibration.output)
