"""Data safety: job-side writes are atomic, and existing outputs are never deleted or replaced
without the ``overwrite`` param (refuse is in tests/e2e/test_mc_production.py).

- a writer killed with SIGKILL mid-write leaves the previous target intact, never a partial one;
- ``overwrite='skip'`` with every output present submits nothing, touches nothing and says the
  stage is done (2 of 2, no job), not "0 of 0";
- a dry run is a safe preview: with the default ``refuse`` it succeeds over existing outputs and
  reports what each policy would do and every command; with ``overwrite`` it moves nothing and
  submits nothing;
- a stage whose input directory does not exist fails when it is planned, naming the path and
  what to do, and submits nothing;
- ``overwrite='overwrite'`` renames the old output aside (byte for byte) before submitting;
- two runs whose ids sanitize alike (``rerun:1``, ``rerun+1``) keep both renamed-aside outputs
  and their own run records, and a rename whose target exists fails the stage, replacing nothing.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support.operator_dags import run_note, run_production_dag, task_report, task_states
from support.slurm_counts import count_jobs_by_tag

from lstflow.productions.naming import dag_id_for
from lstflow.productions.run_note import DRY_RUN_NOTE
from lstflow.run_label import run_label
from lstflow.slurm.hook import SlurmHook
from lstflow_dev import localcluster

pytestmark = pytest.mark.reliability

CHECKOUT = Path(__file__).resolve().parents[2]
BIG = 300 * 1024 * 1024  # long enough to be caught mid-write


def test_writer_killed_mid_write_leaves_the_old_target(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    target.write_text('{"old": true}\n')
    code = (
        "import sys; from pathlib import Path; from lstflow.jobs.common import "
        f"write_text_atomic; write_text_atomic(Path(sys.argv[1]), 'x' * {BIG}, overwrite=True)"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(target)])
    try:
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size > 0 for p in tmp_path.iterdir() if p != target):
            assert writer.poll() is None, "the writer finished before it could be interrupted"
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.01)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    assert target.read_text() == '{"old": true}\n'


def test_common_writer_refuses_an_existing_target_without_overwrite(tmp_path: Path) -> None:
    from lstflow.jobs.common import JobError, write_text_atomic

    target = tmp_path / "result.txt"
    target.write_text("old\n")
    with pytest.raises(JobError, match="already exists; pass --overwrite"):
        write_text_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["result.txt"]  # no temporary left behind


@dataclass(frozen=True)
class ExistingOutputs:
    prod_id: str
    outputs: tuple[Path, ...]

    def digests(self) -> dict[Path, str]:
        return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in self.outputs}

    def submissions(self) -> int:
        prefix = f"lstflow.{dag_id_for(self.prod_id)}."
        return sum(count_jobs_by_tag(SlurmHook(), prefix).values())


@pytest.fixture
def existing_outputs(
    slurm_cluster: localcluster.ClusterInfo,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ExistingOutputs]:
    """A merge_dl1 production whose two outputs already exist on the cluster."""
    workdir = localcluster.make_workdir("data-safety")
    (workdir / "in").mkdir()
    (workdir / "in" / "dl1_not_hdf5.h5").write_text("not an HDF5 file\n")
    outputs = tuple(workdir / "out" / f"merged_{n}.h5" for n in (1, 2))
    outputs[0].parent.mkdir()
    for path in outputs:
        path.write_bytes(b"precious result " + path.name.encode())
    (workdir / "prod_logs").mkdir()
    user = localcluster.cluster_env()["SLURM_SSH_USER"]
    subprocess.run(["chown", "-R", f"{user}:{user}", str(workdir)], check=True)
    prod_id = f"rel_safety_{uuid.uuid4().hex[:8]}"
    production = tmp_path / "library" / prod_id
    production.mkdir(parents=True)
    (production / "lstchain_config.json").write_text("{}\n")
    entries = [
        {"input": str(workdir / "in"), "output": str(path), "options": "--no-progress"}
        for path in outputs
    ]
    config = {
        "workflow_kind": "lstchain",
        "prod_id": prod_id,
        "source_environment": {"source_file": f"{sys.prefix}/bin/activate"},
        "stages_to_run": ["merge_dl1"],
        "stages": {"merge_dl1": entries},
    }
    (production / "lstmcpipe_config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(production.parent))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PARSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__LOG_ROOT", str(workdir / "prod_logs"))
    yield ExistingOutputs(prod_id, outputs)
    localcluster.remove_workdir(workdir)


def test_skip_with_every_output_present_submits_and_touches_nothing(
    existing_outputs: ExistingOutputs,
) -> None:
    before = existing_outputs.digests()
    state, run_id = run_production_dag(
        CHECKOUT / "dags", existing_outputs.prod_id, {"overwrite": "skip"}
    )
    assert state == "success"
    dag_id = dag_id_for(existing_outputs.prod_id)
    assert run_note(dag_id, run_id) is None  # a real run has no dry-run note
    assert task_states(dag_id, run_id) == {"merge_dl1": "success", "provenance": "success"}
    report = task_report(dag_id, run_id, "merge_dl1")
    assert (report["total"], report["completed"], report["job_ids"]) == (2, 2, [])
    assert existing_outputs.submissions() == 0
    assert existing_outputs.digests() == before


def test_dry_run_over_existing_outputs_is_a_preview_not_a_failure(
    existing_outputs: ExistingOutputs,
) -> None:
    """The default overwrite=refuse: the dry run says a real run would fail, and succeeds;
    Airflow's UI shows it as a dry run (its DAG-run note, from the plugin's listener)."""
    before = existing_outputs.digests()
    state, run_id = run_production_dag(
        CHECKOUT / "dags", existing_outputs.prod_id, {"dry_run": True}
    )
    assert state == "success"
    dag_id = dag_id_for(existing_outputs.prod_id)
    assert run_note(dag_id, run_id) == DRY_RUN_NOTE
    assert task_states(dag_id, run_id) == {"merge_dl1": "success", "provenance": "success"}
    preview = task_report(dag_id, run_id, "merge_dl1")
    assert preview["dry_run"] is True
    assert (preview["elements"], preview["existing_outputs"]) == (2, 2)
    assert preview["policies"] == {
        "refuse": "fail: 2 of 2 output(s) already exist, nothing submitted",
        "skip": "submit nothing: all 2 element(s) have their outputs",
        "overwrite": "rename 2 existing output(s) aside, then submit all 2 element(s)",
    }
    assert existing_outputs.submissions() == 0
    assert existing_outputs.digests() == before


def test_dry_run_with_overwrite_moves_and_submits_nothing(
    existing_outputs: ExistingOutputs,
) -> None:
    before = existing_outputs.digests()
    conf = {"overwrite": "overwrite", "dry_run": True}
    state, _ = run_production_dag(CHECKOUT / "dags", existing_outputs.prod_id, conf)
    assert state == "success"
    assert existing_outputs.submissions() == 0
    assert existing_outputs.digests() == before
    assert not list(existing_outputs.outputs[0].parent.glob("*.replaced-*"))


def test_overwrite_renames_old_outputs_aside_before_submitting(
    existing_outputs: ExistingOutputs,
) -> None:
    before = existing_outputs.digests()
    conf = {"overwrite": "overwrite"}
    run_production_dag(CHECKOUT / "dags", existing_outputs.prod_id, conf)
    assert existing_outputs.submissions() >= 1
    for path, digest in before.items():
        (aside,) = path.parent.glob(f"{path.name}.replaced-*")
        assert hashlib.sha256(aside.read_bytes()).hexdigest() == digest


@pytest.fixture
def run_ids(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Give the next ``dag.test()`` run the id a user would give with ``--run-id``."""
    from airflow.models.dagrun import DagRun

    def use(run_id: str) -> None:
        monkeypatch.setattr(DagRun, "generate_run_id", staticmethod(lambda **_: run_id))

    return use


def test_runs_whose_ids_sanitize_alike_keep_every_output(
    existing_outputs: ExistingOutputs, run_ids: Callable[[str], None]
) -> None:
    """Issue #15, attack 4: ``rerun:1`` then ``rerun+1`` with ``overwrite``, the second run's
    rename replaced the first run's renamed-aside original (both labels were ``rerun_1``)."""
    original = existing_outputs.digests()
    conf = {"overwrite": "overwrite"}
    run_ids("rerun:1")
    run_production_dag(CHECKOUT / "dags", existing_outputs.prod_id, conf)
    for path in existing_outputs.outputs:  # what the first run's jobs would have written
        path.write_bytes(b"second result " + path.name.encode())
    second = existing_outputs.digests()
    run_ids("rerun+1")
    run_production_dag(CHECKOUT / "dags", existing_outputs.prod_id, conf)

    assert run_label("rerun:1") != run_label("rerun+1")
    for path in existing_outputs.outputs:
        kept = {
            hashlib.sha256(aside.read_bytes()).hexdigest()
            for aside in path.parent.glob(f"{path.name}.replaced-*")
        }
        assert kept == {original[path], second[path]}
    runs = Path(os.environ["AIRFLOW__LSTFLOW__LOG_ROOT"]) / existing_outputs.prod_id / "runs"
    assert {p.name for p in runs.iterdir()} == {run_label("rerun:1"), run_label("rerun+1")}


def test_overwrite_never_replaces_an_output_already_renamed_aside(
    existing_outputs: ExistingOutputs, run_ids: Callable[[str], None]
) -> None:
    path = existing_outputs.outputs[0]
    aside = path.with_name(f"{path.name}.replaced-{run_label('rerun:1')}")
    aside.write_bytes(b"renamed aside by an earlier try")
    user = localcluster.cluster_env()["SLURM_SSH_USER"]
    subprocess.run(["chown", f"{user}:{user}", str(aside)], check=True)
    before = {**existing_outputs.digests(), aside: hashlib.sha256(aside.read_bytes()).hexdigest()}
    run_ids("rerun:1")
    state, run_id = run_production_dag(
        CHECKOUT / "dags", existing_outputs.prod_id, {"overwrite": "overwrite"}
    )
    assert state == "failed"
    assert task_states(dag_id_for(existing_outputs.prod_id), run_id)["merge_dl1"] == "failed"
    assert existing_outputs.submissions() == 0
    after = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in before}
    assert after == before


def test_missing_input_directory_fails_at_planning_with_the_path(
    existing_outputs: ExistingOutputs, tmp_path: Path
) -> None:
    config_path = tmp_path / "library" / existing_outputs.prod_id / "lstmcpipe_config.yaml"
    config = yaml.safe_load(config_path.read_text())
    missing = f"{config['stages']['merge_dl1'][1]['input']}_not_there"
    config["stages"]["merge_dl1"][1]["input"] = missing
    config_path.write_text(yaml.safe_dump(config))
    state, run_id = run_production_dag(
        CHECKOUT / "dags", existing_outputs.prod_id, {"overwrite": "overwrite"}
    )
    assert state == "failed"
    dag_id = dag_id_for(existing_outputs.prod_id)
    assert task_states(dag_id, run_id)["merge_dl1"] == "failed"
    assert existing_outputs.submissions() == 0
    assert not list(existing_outputs.outputs[0].parent.glob("*.replaced-*"))
