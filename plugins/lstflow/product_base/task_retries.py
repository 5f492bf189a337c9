"""The one task-retry rule of both products' Slurm tasks.

Task retries absorb infrastructure faults: SSH dropped, sacct failing while slurmdbd is down,
a worker lost with a killed scheduler, Airflow 3.3's race that fails a deferred task whose
trigger fires within seconds (apache/airflow#72716). A new try re-attaches to the stored spec,
plan and jobs, so nothing is submitted twice. Failed elements are not retried this way: each
had its own retries (``RetryPolicy.max_element_retries``) and ``SlurmArrayFailed`` fails the
task for good. 15, 30, 60 and 120 s apart, so outages of a few minutes are ridden out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

TASK_RETRIES: dict[str, Any] = {
    "retries": 4,
    "retry_delay": timedelta(seconds=15),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}
