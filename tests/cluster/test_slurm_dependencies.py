"""What lineage-aware runs (docs/lineage.md) rely on Slurm for, checked on the real cluster over
real SSH: ``aftercorr`` releases each element as soon as *its* upstream element succeeded,
``--kill-on-invalid-dep=yes`` cancels dependants of a failed or cancelled upstream instead of
leaving them pending, and without it they stay pending for ever (``DependencyNeverSatisfied``).

The cluster is shared: nothing here asserts a duration, only states and their order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import pytest

from lstflow.slurm.hook import SlurmHook

pytestmark = pytest.mark.cluster

FIRST_FAST = 'if [ "$SLURM_ARRAY_TASK_ID" = 0 ]; then exit 0; fi; sleep 120'


def submit(hook: SlurmHook, remote_dir: str, wrap: str, *options: str) -> str:
    argv = ["sbatch", "--parsable", "--job-name=lstflow.deptest", "--time=3", "--mem=50M"]
    argv += [f"--output={remote_dir}/%A_%a.out", *options, f"--wrap={wrap}"]
    return hook.check(argv).stdout.strip().split(";")[0]


def queue(hook: SlurmHook, job_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """squeue's elements of ``job_ids``: ``{"12_0": (state, reason)}`` (finished ones drop out)."""
    argv = ["squeue", "-h", "-r", "-j", ",".join(job_ids), "-o", "%i|%T|%r"]
    rows = hook.run(argv).stdout.splitlines()
    return {row.split("|")[0]: (row.split("|")[1], row.split("|")[2]) for row in rows if row}


def final_states(hook: SlurmHook, job_ids: Sequence[str]) -> dict[str, str]:
    """``{"12_0": state}`` as lstflow reads sacct (``SlurmHook.element_states``): an element
    cancelled before it ever started is accounted in its pending array's own record, ``12_[1]``
    or, as measured here, a stale ``12_[0-1]`` after element 0 was split out and completed."""
    return {
        str(element): status.state.value for element, status in hook.element_states(job_ids).items()
    }


def wait_until(what: object, condition: Callable[[], bool], timeout: float = 120) -> None:
    """Poll ``condition`` every second; on a timeout, fail with ``str(what)`` as it reads then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"not within {timeout} s: {what}")


class Settled:
    """True once sacct reports every element in ``expected`` in its expected state; keeps what
    it last read, so a timeout says what sacct said instead."""

    def __init__(self, hook: SlurmHook, expected: dict[str, str]) -> None:
        self.hook = hook
        self.expected = expected
        self.last: dict[str, str] = {}

    def __call__(self) -> bool:
        self.last = final_states(self.hook, sorted({e.split("_")[0] for e in self.expected}))
        return all(self.last.get(element) == state for element, state in self.expected.items())

    def __str__(self) -> str:
        return f"sacct's final states {self.expected} (last read: {self.last})"


def wait_settled(hook: SlurmHook, expected: dict[str, str], timeout: float = 120) -> None:
    settled = Settled(hook, expected)
    wait_until(settled, settled, timeout)


def test_aftercorr_releases_each_element_after_its_own_upstream(remote_dir: str) -> None:
    hook = SlurmHook()
    upstream = submit(hook, remote_dir, FIRST_FAST, "--array=0-1")
    downstream = submit(
        hook,
        remote_dir,
        "exit 0",
        "--array=0-1",
        f"--dependency=aftercorr:{upstream}",
        "--kill-on-invalid-dep=yes",
    )
    try:
        wait_until(
            f"{downstream}_0 run after {upstream}_0 alone",
            lambda: final_states(hook, [downstream]).get(f"{downstream}_0") == "COMPLETED",
        )
        now = queue(hook, [upstream, downstream])
        # Element 1 of the upstream still runs (sleep 120, or waits for a slot): its partner
        # still waits for it.
        assert now[f"{upstream}_1"][0] in ("RUNNING", "PENDING")
        assert now[f"{downstream}_1"] == ("PENDING", "Dependency")
        # Cancelling the upstream element cancels its dependant: nothing is left pending.
        hook.check(["scancel", f"{upstream}_1"])
        wait_until(
            "the dependant of the cancelled element gone from the queue",
            lambda: f"{downstream}_1" not in queue(hook, [downstream]),
        )
        wait_settled(
            hook,
            {
                f"{upstream}_0": "COMPLETED",
                f"{upstream}_1": "CANCELLED",
                f"{downstream}_0": "COMPLETED",
                f"{downstream}_1": "CANCELLED",
            },
            timeout=300,  # slurmdbd records asynchronously; slow while other tiers load the cluster
        )
    finally:
        hook.run(["scancel", upstream, downstream])


def test_failed_upstream_cancels_dependants_only_with_kill_on_invalid_dep(
    remote_dir: str,
) -> None:
    hook = SlurmHook()
    failing = submit(hook, remote_dir, "exit 3")
    stuck = submit(
        hook,
        remote_dir,
        "exit 0",
        f"--dependency=afterok:{failing}",
        "--kill-on-invalid-dep=no",  # overrides the cluster's DependencyParameters
    )
    killed = submit(
        hook,
        remote_dir,
        "exit 0",
        f"--dependency=afterok:{failing}",
        "--kill-on-invalid-dep=yes",
    )
    try:
        wait_until(
            "the dependant without kill-on-invalid-dep pending for ever",
            lambda: (
                queue(hook, [stuck]).get(stuck, ("", "")) == ("PENDING", "DependencyNeverSatisfied")
            ),
        )
        # The dependant with kill-on-invalid-dep is cancelled, never started.
        wait_settled(hook, {failing: "FAILED", killed: "CANCELLED"})
        # The stuck one is what lstflow's sweep must cancel: scancel clears it.
        hook.check(["scancel", stuck])
        wait_until("the stuck dependant gone", lambda: stuck not in queue(hook, [stuck]))
    finally:
        hook.run(["scancel", failing, stuck, killed])
