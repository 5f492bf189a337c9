"""The real local Slurm cluster, reached over real SSH with strict host-key checking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cluster_ssh import run_over_ssh

from lstflow_dev import localcluster
from lstflow_dev.checkout import job_pythonpath

pytestmark = pytest.mark.cluster

CLI = [sys.executable, "-m", "lstflow_dev", "cluster"]
CLI_ENV = {**os.environ, "PYTHONPATH": job_pythonpath()}
TERMINAL_SACCT_STATES = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY")
SACCT_WAIT_S = 180


def sacct_elements(info: localcluster.ClusterInfo, job_id: str) -> dict[str, tuple[str, str]]:
    """``{task_id: (state, exit_code)}`` for the array rows sacct knows so far."""
    rc, out, err = run_over_ssh(
        info, f"sacct -X -j {job_id} --parsable2 --noheader -o JobID,State,ExitCode"
    )
    assert rc == 0, err
    rows: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        job, state, exit_code = line.split("|")
        array_id, _, task_id = job.partition("_")
        if array_id == job_id and task_id.isdigit():
            rows[task_id] = (state, exit_code)
    return rows


def wait_for_terminal_sacct_rows(
    info: localcluster.ClusterInfo, job_id: str, task_ids: set[str]
) -> dict[str, tuple[str, str]]:
    """sacct lags squeue by seconds and may miss an element for a while: wait for every one."""
    deadline = time.monotonic() + SACCT_WAIT_S
    rows: dict[str, tuple[str, str]] = {}
    while time.monotonic() < deadline:
        rows = sacct_elements(info, job_id)
        if set(rows) == task_ids and all(
            state.startswith(TERMINAL_SACCT_STATES) for state, _ in rows.values()
        ):
            return rows
        time.sleep(1)
    raise AssertionError(f"sacct rows of array {job_id} not all terminal after wait: {rows}")


def test_cluster_is_up_with_production_partitions(
    slurm_cluster: localcluster.ClusterInfo,
) -> None:
    report = localcluster.status()

    assert report["up"] is True
    assert all(pid is not None for pid in report["daemons"].values()), report["daemons"]
    partitions = {p["name"]: p for p in report["partitions"]}
    assert set(partitions) == {"short", "long", "xxl"}
    assert partitions["short"]["default"] is True
    assert report["env_file"] == str(slurm_cluster.env_file)


def test_job_array_over_ssh_reports_each_element_in_sacct(
    slurm_cluster: localcluster.ClusterInfo, cluster_workdir: Path
) -> None:
    # Element 2 fails with exit status 1, the others succeed.
    wrap = 'echo task=$SLURM_ARRAY_TASK_ID; test "$SLURM_ARRAY_TASK_ID" != 2'
    rc, out, err = run_over_ssh(
        slurm_cluster,
        f"sbatch --parsable --array=0-3 --job-name=lstflow-test-array --time=2 "
        f"--chdir={cluster_workdir} --output={cluster_workdir}/slurm-%A_%a.out "
        f"--wrap '{wrap}'",
    )
    assert rc == 0, err
    job_id = out.strip()
    assert job_id.isdigit(), out

    rows = wait_for_terminal_sacct_rows(slurm_cluster, job_id, {"0", "1", "2", "3"})

    assert rows == {
        "0": ("COMPLETED", "0:0"),
        "1": ("COMPLETED", "0:0"),
        "2": ("FAILED", "1:0"),
        "3": ("COMPLETED", "0:0"),
    }
    for task_id in rows:
        log = cluster_workdir / f"slurm-{job_id}_{task_id}.out"
        assert log.read_text().strip() == f"task={task_id}"
        assert log.stat().st_uid == os.stat(cluster_workdir).st_uid  # written as the job user


def test_airflow_ssh_hook_uses_the_connection_with_a_pinned_host_key(
    slurm_cluster: localcluster.ClusterInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setenv("AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM", slurm_cluster.connection_json)
    from airflow.providers.ssh.hooks.ssh import SSHHook

    hook = SSHHook(ssh_conn_id=localcluster.CONNECTION_ID)
    assert hook.no_host_key_check is False
    assert hook.host_key is not None
    with hook.get_conn() as client:
        exit_status, stdout, _ = hook.exec_ssh_client_command(
            client, "echo $SLURM_CONF; whoami", get_pty=False, environment=None, timeout=30
        )

    assert exit_status == 0
    assert stdout.decode().split() == [slurm_cluster.slurm_conf, slurm_cluster.user]


def test_second_up_leaves_running_daemons_alone(slurm_cluster: localcluster.ClusterInfo) -> None:
    before = localcluster.status()["daemons"]

    info = localcluster.up()

    assert localcluster.status()["daemons"] == before
    assert info.env == slurm_cluster.env


def test_concurrent_up_calls_both_succeed(slurm_cluster: localcluster.ClusterInfo) -> None:
    before = localcluster.status()["daemons"]
    command = [*CLI, "up", "--no-airflow-connection"]
    processes = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLI_ENV
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=300) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], results
    assert localcluster.status()["daemons"] == before


def test_status_command_exits_0_and_names_the_env_file(
    slurm_cluster: localcluster.ClusterInfo,
) -> None:
    result = subprocess.run(
        [*CLI, "status"], capture_output=True, text=True, timeout=60, env=CLI_ENV
    )

    assert result.returncode == 0, result.stderr
    assert "cluster is UP" in result.stdout
    assert str(slurm_cluster.env_file) in result.stdout


def test_up_upserts_the_connection_into_an_initialised_airflow_db(
    slurm_cluster: localcluster.ClusterInfo, tmp_path: Path
) -> None:
    env = {**CLI_ENV, "AIRFLOW_HOME": str(tmp_path / "airflow")}
    # The session exports the connection as a variable; this test reads the DB's copy.
    env.pop("AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM", None)
    airflow = [sys.executable, "-m", "airflow"]
    migrate = subprocess.run(
        [*airflow, "db", "migrate"], capture_output=True, text=True, env=env, timeout=600
    )
    assert migrate.returncode == 0, migrate.stderr

    up = subprocess.run([*CLI, "up"], capture_output=True, text=True, env=env, timeout=600)
    stored = subprocess.run(
        [*airflow, "connections", "get", localcluster.CONNECTION_ID, "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )

    assert up.returncode == 0, up.stderr
    assert f"Airflow connection '{localcluster.CONNECTION_ID}' upserted" in up.stdout
    assert stored.returncode == 0, stored.stderr
    (connection,) = json.loads(stored.stdout)
    expected = json.loads(slurm_cluster.connection_json)
    assert connection["conn_type"] == "ssh"
    assert (connection["host"], int(connection["port"]), connection["login"]) == (
        expected["host"],
        expected["port"],
        expected["login"],
    )
    assert connection["extra_dejson"] == expected["extra"]


def test_a_python_the_job_user_cannot_read_is_refused_clearly(
    slurm_cluster: localcluster.ClusterInfo, tmp_path: Path
) -> None:
    # pytest's tmp_path is private to root, like a checkout the job user cannot enter.
    private_python = tmp_path / "venv" / "bin" / "python"
    private_python.parent.mkdir(parents=True)
    private_python.symlink_to(sys.executable)

    with pytest.raises(localcluster.ClusterError, match=f"jobs run as '{slurm_cluster.user}' but"):
        localcluster.check_job_python(str(private_python), slurm_cluster.user)
    localcluster.check_job_python(sys.executable, slurm_cluster.user)
