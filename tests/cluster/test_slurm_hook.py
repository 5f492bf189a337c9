"""``SlurmHook``, ``ClusterFiles`` and the poller's query against the real cluster over SSH."""

from __future__ import annotations

import asyncio
import time

import pytest
from support.slurm_counts import count_jobs_by_tag, record_slurm_traffic

from lstflow.slurm.cluster_files import ClusterFiles
from lstflow.slurm.elements import ElementId, ElementStatus
from lstflow.slurm.hook import SbatchRequest, SlurmHook
from lstflow.slurm.poller import SlurmStatusPoller
from lstflow.slurm.slurm_argv import squeue_forgot_all, squeue_status_argv
from lstflow.slurm.states import SlurmState

pytestmark = pytest.mark.cluster


def _wait_finished(hook: SlurmHook, job_id: str, elements: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = hook.element_states([job_id]).values()
        # sacct lags: a one-element array shows as plain "12" before "12_0" appears
        indexed = [row for row in rows if row.element.index is not None]
        if len(indexed) == elements and all(row.finished for row in indexed):
            return
        time.sleep(1)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s")


def test_cluster_limits_come_from_scontrol() -> None:
    limits = SlurmHook().cluster_limits()
    assert limits.max_array_size == 1001
    assert limits.min_job_age == 300


def test_pending_jobs_counts_array_elements_of_the_ssh_user(remote_dir: str) -> None:
    hook = SlurmHook()
    script = f"{remote_dir}/held.sbatch"
    ClusterFiles(hook).write(script, "#!/bin/bash\ntrue\n")
    job_id = hook.submit(
        SbatchRequest(
            script,
            array="0-4",
            options=(("time", "1"), ("mem", "50M"), ("begin", "now+1hour")),  # held
            job_name=f"lstflow.pendingtest.{remote_dir.rsplit('-', 1)[1]}",
            comment="held",
            workdir=remote_dir,
            output=f"{remote_dir}/%A_%a.out",
            error=f"{remote_dir}/%A_%a.err",
        )
    )
    try:
        # Five elements, not one array record (other tests' pending jobs may add to it).
        assert hook.pending_jobs() >= 5
    finally:
        hook.cancel([job_id])


def test_files_round_trip_and_existing_paths_in_one_call(remote_dir: str) -> None:
    files = ClusterFiles(SlurmHook())
    tricky = f"{remote_dir}/a file; echo pwned $(id).txt"
    files.write(tricky, "line1\nline2\nline3\n")
    assert files.read(tricky) == b"line1\nline2\nline3\n"
    assert files.read(tricky, max_bytes=5) is None  # bounded: too large reads as missing
    assert files.read(f"{remote_dir}/missing") is None
    assert files.tail([tricky, f"{remote_dir}/missing"], lines=2) == {
        tricky: "line2\nline3\n",
        f"{remote_dir}/missing": "",
    }
    assert files.existing([tricky, f"{remote_dir}/missing", remote_dir]) == {tricky, remote_dir}
    files.make_dirs([f"{remote_dir}/sub dir/deeper"])
    files.write(f"{remote_dir}/sub dir/a.h5", "x" * 12)
    listing = files.list_directories([f"{remote_dir}/sub dir", f"{remote_dir}/none"], ["*.h5"])
    assert listing == {
        f"{remote_dir}/sub dir": [f"{remote_dir}/sub dir/a.h5"],
        f"{remote_dir}/none": None,
    }
    sizes = files.sizes([f"{remote_dir}/sub dir", f"{remote_dir}/sub dir/a.h5", f"{remote_dir}/x"])
    assert (sizes[f"{remote_dir}/sub dir"].kind, sizes[f"{remote_dir}/sub dir"].files) == ("dir", 1)
    assert sizes[f"{remote_dir}/sub dir/a.h5"].size == 12
    assert sizes[f"{remote_dir}/x"].kind == "missing"
    versions = files.versions([tricky, f"{remote_dir}/missing", remote_dir])
    assert set(versions) == {tricky}  # regular files only
    files.write(tricky, "rewritten\n")  # a new file renamed over it: a new version
    assert files.versions([tricky])[tricky] != versions[tricky]
    many = {
        tricky: "third\n",  # replaced
        f"{remote_dir}/new dir/$(id) `x`.sh": "#!/bin/bash\n",
        f"{remote_dir}/{'d' * 120}/{'f' * 120}.json": "{}",  # past tar's 100-byte names
    }
    files.write_all(many)  # one round trip
    assert {path: files.read(path) for path in many} == {p: c.encode() for p, c in many.items()}


def test_submit_find_count_cancel_and_query(remote_dir: str) -> None:
    hook = SlurmHook()
    script = f"{remote_dir}/job.sbatch"
    ClusterFiles(hook).write(script, '#!/bin/bash\nsleep 30; exit "$SLURM_ARRAY_TASK_ID"\n')
    name = f"lstflow.hooktest.{remote_dir.rsplit('-', 1)[1]}"
    job_id = hook.submit(
        SbatchRequest(
            script,
            array="0-2%1",
            options=(("time", "2"), ("mem", "50M")),
            job_name=name,
            comment="lstflow test; $(rm -rf ~)",
            workdir=remote_dir,
            output=f"{remote_dir}/%A_%a.out",
            error=f"{remote_dir}/%A_%a.err",
        )
    )
    assert hook.find_jobs([name]) == {name: {job_id}}
    assert count_jobs_by_tag(hook, "lstflow.hooktest.")[name] == 1
    live = hook.check(squeue_status_argv([job_id])).stdout
    assert f"{job_id}_" in live

    hook.cancel([job_id])
    _wait_finished(hook, job_id, elements=3)
    rows = hook.element_states([job_id]).values()
    assert {row.state for row in rows} == {SlurmState.CANCELLED}
    assert all(row.cancelled_by is not None for row in rows)  # sacct's "CANCELLED by <uid>"


def test_poller_query_uses_sacct_for_failures_and_forgotten_jobs(remote_dir: str) -> None:
    hook = SlurmHook()
    script = f"{remote_dir}/fail.sbatch"
    ClusterFiles(hook).write(script, "#!/bin/bash\nexit 3\n")
    job_id = hook.submit(
        SbatchRequest(
            script,
            array="0",
            options=(("time", "1"),),
            job_name="lstflow.hooktest.fail",
            comment="test",
            workdir=remote_dir,
            output=f"{remote_dir}/%A_%a.out",
            error=f"{remote_dir}/%A_%a.err",
        )
    )
    _wait_finished(hook, job_id, elements=1)

    async def query() -> dict[ElementId, ElementStatus]:
        poller = SlurmStatusPoller.for_connection("lstflow_local_slurm")
        try:
            return dict(await poller.query([job_id], set(), timeout=60))
        finally:
            await poller._close()

    with record_slurm_traffic() as traffic:
        statuses = asyncio.run(query())
    status = statuses[ElementId(job_id, 0)]
    assert status.state is SlurmState.FAILED
    assert status.exit_code == 3
    assert traffic.queries[("lstflow_local_slurm", "sacct")] == 1

    # A job id the controller does not know (as after MinJobAge): squeue answers rc 1, which the
    # poller reads as "ask sacct", never as "done".
    forgotten = hook.run(squeue_status_argv(["999999999"]))
    assert squeue_forgot_all(forgotten)


def test_element_usage_reports_elapsed_and_peak_memory_of_each_element(remote_dir: str) -> None:
    hook = SlurmHook()
    script = f"{remote_dir}/usage.sbatch"
    # 40 MB held for 8 s: sacct's MaxRSS, sampled every 5 s (JobAcctGatherFrequency), sees it
    ClusterFiles(hook).write(
        script, "#!/bin/bash\npython3 -c 'import time; b = bytearray(40 << 20); time.sleep(8)'\n"
    )
    job_id = hook.submit(
        SbatchRequest(
            script,
            array="0-1",
            options=(("time", "2"), ("mem", "200M")),
            job_name="lstflow.hooktest.usage",
            comment="test",
            workdir=remote_dir,
            output=f"{remote_dir}/%A_%a.out",
            error=f"{remote_dir}/%A_%a.err",
        )
    )
    _wait_finished(hook, job_id, elements=2)
    usage = hook.element_usage([job_id])
    assert set(usage) == {ElementId(job_id, 0), ElementId(job_id, 1)}
    for row in usage.values():
        assert row.state is SlurmState.COMPLETED
        assert row.elapsed_s is not None and row.elapsed_s >= 8
        assert row.max_rss_bytes is not None and row.max_rss_bytes >= 40 << 20
