"""Shell metacharacters in config paths and options never reach a shell unquoted.

A valid production whose paths hold ``$(…)``, backticks, ``;``, quotes, ``&&``,
``|``, ``>`` and newlines goes through ``lstflow validate``, ``lstflow plan`` and a real run on
the local Slurm (planning over SSH, directories made, the lstchain config published, sbatch,
the jobs themselves). Each payload would create a canary file if any shell ever interpreted
it; the canary directory is writable by everybody, and is checked as root and, over SSH, as
the job user. A plain ``SlurmArrayOperator`` also prints its argv back: the job must see every
payload byte for byte. A payload in an ``options`` string is not an option of the stage's
lstchain tool: ``lstflow validate`` refuses it before any run.
"""

from __future__ import annotations

import json
import pwd
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support.operator_dags import new_dag_id, run_array_dag, run_production_dag, task_report

from lstflow.productions.naming import dag_id_for
from lstflow.slurm.hook import SlurmHook
from lstflow.workitems import ArraySpec, Resources, WorkItem
from lstflow_dev import localcluster

pytestmark = pytest.mark.reliability

CHECKOUT = Path(__file__).resolve().parents[2]
# {c}: the canary directory (absolute); {rel}: a canary name a command would create in its cwd.
PAYLOADS = (
    "$(touch {c}/dollar)",
    "`touch {c}/backtick`",
    ";touch {c}/semicolon;",
    "' ; touch {c}/squote ; '",
    '" ; touch {c}/dquote ; "',
    "\ntouch {c}/newline\n",
    "&& touch {c}/and",
    "| touch {c}/pipe",
    "> {c}/redirect",
    "$(touch {rel})",
)


@dataclass(frozen=True)
class Canary:
    workdir: Path  # owned by the job user, on the cluster's filesystem
    directory: Path  # must stay empty
    name: str  # a relative canary: no file of this name may appear anywhere we look

    def payloads(self) -> list[str]:
        return [p.format(c=self.directory, rel=self.name) for p in PAYLOADS]

    def hits(self, hook: SlurmHook) -> dict[str, str]:
        """Canary files seen by root and by the job user (empty when nothing was injected)."""
        user = localcluster.cluster_env()["SLURM_SSH_USER"]
        roots = [self.workdir, CHECKOUT / ".lstflow", Path("/tmp"), Path(pwd.getpwnam(user).pw_dir)]
        found = {
            "root: canary dir": " ".join(sorted(p.name for p in self.directory.iterdir())),
            "root: relative": _find(roots, self.name),
            "job user: canary dir": hook.check(
                ["find", str(self.directory), "-mindepth", "1"]
            ).stdout,
            "job user: relative": hook.run(["find", str(self.workdir), "-name", self.name]).stdout,
        }
        return {where: what for where, what in found.items() if what.strip()}


def _find(roots: list[Path], name: str) -> str:
    existing = [str(root) for root in roots if root.exists()]
    result = subprocess.run(
        ["find", *existing, "-xdev", "-name", name], capture_output=True, text=True, check=False
    )
    return result.stdout


@pytest.fixture
def canary(slurm_cluster: localcluster.ClusterInfo) -> Iterator[Canary]:
    workdir = localcluster.make_workdir("injection")
    directory = workdir / "canary"
    directory.mkdir()
    directory.chmod(0o777)  # any injected command, as any user, could write here
    yield Canary(workdir, directory, f"hit-{uuid.uuid4().hex[:12]}")
    localcluster.remove_workdir(workdir)


def injection_production(canary: Canary, library: Path) -> tuple[Path, dict[str, str]]:
    """A valid production whose every path and option carries payloads; returns its config
    file and the paths used."""
    p = canary.payloads()
    work = canary.workdir
    paths = {
        "input": f"{work}/in {p[0]} {p[1]}",
        "output": f"{work}/out {p[2]} {p[3]}/merged {p[4]}.h5",
        "output2": f"{work}/out2 {p[5]} {p[9]}/merged.h5",
        "env": f"{work}/env {p[6]} {p[7]} {p[8]}",
    }
    config = {
        "workflow_kind": "lstchain",
        "prod_id": f"rel_injection_{uuid.uuid4().hex[:8]}",
        "source_environment": {"source_file": f"{paths['env']}/bin/activate"},
        "stages_to_run": ["merge_dl1"],
        "stages": {
            "merge_dl1": [
                {
                    "input": paths["input"],
                    "output": paths["output"],
                    "options": "--no-progress",
                    "extra_slurm_options": {"mem": "1G", "time": "00:10:00"},
                },
                {
                    "input": paths["input"],
                    "output": paths["output2"],
                    "options": "--no-progress",
                    "extra_slurm_options": {"mem": "1G", "time": "00:10:00"},
                },
            ]
        },
    }
    directory = library / "injection"
    directory.mkdir(parents=True)
    (directory / "lstchain_config.json").write_text("{}\n")
    config_file = directory / "lstmcpipe_config.yaml"
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True))
    return config_file, {**paths, "prod_id": config["prod_id"]}


def test_validate_and_plan_keep_payloads_literal(canary: Canary, tmp_path: Path) -> None:
    config_file, paths = injection_production(canary, tmp_path / "library")
    cli = [sys.executable, "-m", "lstflow.cli"]
    validate = subprocess.run(
        [*cli, "validate", "--json", "--no-lstchain", str(config_file)],
        capture_output=True,
        text=True,
        cwd=canary.workdir,
        check=False,
    )
    assert validate.returncode == 0, validate.stdout
    assert json.loads(validate.stdout)["files"][0]["prod_id"] == paths["prod_id"]

    plan = subprocess.run(
        [*cli, "plan", str(config_file)], capture_output=True, text=True, cwd=canary.workdir
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
    for argv in (
        ("lstchain_merge_hdf5_files", "-d", paths["input"], "-o", paths["output"], "--no-progress"),
        (
            "lstchain_merge_hdf5_files",
            "-d",
            paths["input"],
            "-o",
            paths["output2"],
            "--no-progress",
        ),
    ):
        assert shlex.join(argv) in plan.stdout
    assert canary.hits(SlurmHook()) == {}


def test_validate_refuses_a_payload_in_options(canary: Canary, tmp_path: Path) -> None:
    """An ``options`` string reaches lstchain as arguments, never a shell: a payload there is
    not an option of the stage's tool, so ``validate`` refuses it before any run (#17)."""
    config_file, _ = injection_production(canary, tmp_path / "library")
    config = yaml.safe_load(config_file.read_text())
    payload = canary.payloads()[9]
    config["stages"]["merge_dl1"][1]["options"] = f"--no-progress {shlex.quote(payload)}"
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True))
    validate = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstflow.cli",
            "validate",
            "--json",
            "--no-lstchain",
            str(config_file),
        ],
        capture_output=True,
        text=True,
        cwd=canary.workdir,
        check=False,
    )
    assert validate.returncode == 1, validate.stdout
    messages = [e["message"] for e in json.loads(validate.stdout)["files"][0]["errors"]]
    assert any(f"{payload!r} is not an option of lstchain_merge_hdf5_files" in m for m in messages)
    assert canary.hits(SlurmHook()) == {}


def test_real_production_run_passes_payloads_verbatim_to_the_jobs(
    canary: Canary, tmp_path: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file, paths = injection_production(canary, tmp_path / "library")
    # The job side: the analysis environment behind a payload-laden path, a non-HDF5 input.
    env_bin = Path(paths["env"]) / "bin"
    env_bin.mkdir(parents=True)
    (env_bin / "activate").symlink_to(Path(sys.prefix) / "bin" / "activate")
    Path(paths["input"]).mkdir(parents=True)
    (Path(paths["input"]) / "dl1_not_hdf5.h5").write_text("not an HDF5 file\n")
    log_root = canary.workdir / "prod_logs"
    log_root.mkdir()
    user = localcluster.cluster_env()["SLURM_SSH_USER"]
    subprocess.run(["chown", "-R", f"{user}:{user}", str(canary.workdir)], check=True)
    canary.directory.chmod(0o777)
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PRODUCTION_CONFIGS", str(config_file.parent.parent))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__PARSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIRFLOW__LSTFLOW__LOG_ROOT", str(log_root))

    state, run_id = run_production_dag(CHECKOUT / "dags", paths["prod_id"], {})

    assert state == "failed"  # lstchain cannot merge a file that is not HDF5
    report = task_report(dag_id_for(paths["prod_id"]), run_id, "merge_dl1")
    rows = {row["key"]: row for row in report["failed"]}
    assert set(rows) == {"merge_dl1[0]", "merge_dl1[1]"}
    expected = {
        "merge_dl1[0]": ("-d", paths["input"], "-o", paths["output"], "--no-progress"),
        "merge_dl1[1]": (
            "-d",
            paths["input"],
            "-o",
            paths["output2"],
            "--no-progress",
        ),
    }
    for key, row in rows.items():
        assert row["command"] == shlex.join(("lstchain_merge_hdf5_files", *expected[key]))
        assert row["exit_code"] not in (96, 97, 127), row  # the prologue and the tool both ran
        assert row["attempts"] == 3  # FAILED is retried twice
    # the output directories were made over SSH under their literal names
    assert Path(paths["output"]).parent.is_dir() and Path(paths["output2"]).parent.is_dir()
    assert canary.hits(SlurmHook()) == {}


def test_job_argv_and_log_paths_arrive_byte_for_byte(canary: Canary, airflow_db: Path) -> None:
    payloads = canary.payloads()
    # Slurm's --output/--chdir: every payload but the newline one (Slurm log names are one line).
    logs = canary.workdir / ("logs " + " ".join(p for p in payloads if "\n" not in p))
    spec = ArraySpec(
        name="echo",
        items=(WorkItem("echo", ("printf", "%s\\0", *payloads), Resources(mem="50M", time="5")),),
        log_dir=str(logs),
        workdir=str(logs),
    )
    state, report = run_array_dag(new_dag_id("argv"), spec)

    assert state == "success", report
    (job_id,) = report["job_ids"]
    out = Path(f"{logs}/echo_{job_id}_0.out").read_text()
    printed = out.split("\n", 1)[1]  # after lstflow's own "element N runs" line
    assert printed.split("\0")[:-1] == payloads
    assert canary.hits(SlurmHook()) == {}
