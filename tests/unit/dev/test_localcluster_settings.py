"""Pure parts of the local cluster: settings, rendering of the real templates, parsing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lstflow_dev import cli, localcluster

pytestmark = pytest.mark.unit

LIB = localcluster.SCRIPTS_DIR / "lib.sh"
TEMPLATES = localcluster.SCRIPTS_DIR / "templates"
SLURMD_C = (
    "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 "
    "RealMemory=24105"
)


def run_lib(script: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in bash after sourcing lib.sh, with only the given overrides set."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LSTFLOW_")}
    env.update(environment)
    return subprocess.run(
        ["bash", "-c", f'source "{LIB}"; {script}'],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )


def render(template: str, cgroup_mode: str, **environment: str) -> str:
    result = run_lib(
        f'load_settings; set_plugin_types {cgroup_mode}; set_node_hardware "{SLURMD_C}"; '
        f'DB_PASSWORD=secret; render_template "{TEMPLATES / template}"',
        **environment,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("cgroup_mode", ["yes", "no"])
@pytest.mark.parametrize("template", ["slurm.conf", "cgroup.conf", "slurmdbd.conf", "sshd_config"])
def test_every_template_placeholder_is_filled(template: str, cgroup_mode: str) -> None:
    text = render(template, cgroup_mode)

    assert "@" not in text.replace("%u", "")


def test_slurm_conf_carries_the_settings_and_the_scheduling_fixes() -> None:
    lines = render(
        "slurm.conf",
        "yes",
        LSTFLOW_CLUSTER_ROOT="/srv/lc",
        LSTFLOW_CLUSTER_MINJOBAGE="10",
        LSTFLOW_CLUSTER_SLURMCTLD_PORT="20001",
    ).splitlines()

    for expected in [
        "SlurmctldPort=20001",
        "MinJobAge=10",
        "MaxArraySize=1001",
        "DependencyParameters=kill_invalid_depend",
        "SchedulerParameters=batch_sched_delay=0",
        "AuthInfo=socket=/srv/lc/run/munge/munge.socket.2",
        "AccountingStoragePass=socket=/srv/lc/run/munge/munge.socket.2",
        "ProctrackType=proctrack/cgroup",
        "AccountingStorageType=accounting_storage/slurmdbd",
    ]:
        assert expected in lines
    node_line = next(line for line in lines if line.startswith("NodeName="))
    assert "CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1" in node_line
    assert "RealMemory=22899" in node_line  # 95 % of slurmd -C
    partitions = [line.split()[0] for line in lines if line.startswith("PartitionName=")]
    assert partitions == ["PartitionName=short", "PartitionName=long", "PartitionName=xxl"]


def test_without_cgroups_memory_is_enforced_by_polling() -> None:
    lines = render("slurm.conf", "no", LSTFLOW_CLUSTER_ACCOUNTING="none").splitlines()

    assert "ProctrackType=proctrack/linuxproc" in lines
    assert "JobAcctGatherParams=NoShared,OverMemoryKill" in lines
    assert "AccountingStorageType=accounting_storage/none" in lines


def test_sshd_config_pins_the_private_slurm_conf_for_every_session() -> None:
    lines = render("sshd_config", "yes", LSTFLOW_CLUSTER_ROOT="/srv/lc").splitlines()

    assert "SetEnv SLURM_CONF=/srv/lc/etc/slurm.conf" in lines
    assert "ListenAddress 127.0.0.1" in lines
    assert "PasswordAuthentication no" in lines


def test_render_refuses_a_placeholder_without_a_value(tmp_path: Path) -> None:
    template = tmp_path / "t.conf"
    template.write_text("A=@LSTFLOW_CLUSTER_SSH_PORT@\nB=@NOT_A_SETTING@\n")

    result = run_lib(f'load_settings; render_template "{template}"')

    assert result.returncode == 1
    assert f"{template} uses @NOT_A_SETTING@ but NOT_A_SETTING is not set" in result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"LSTFLOW_CLUSTER_SSH_PORT": "22"}, "LSTFLOW_CLUSTER_SSH_PORT='22' must be a port"),
        ({"LSTFLOW_CLUSTER_MARIADB_PORT": "16022"}, "must be five different ports"),
        ({"LSTFLOW_CLUSTER_ROOT": "relative/dir"}, "LSTFLOW_CLUSTER_ROOT='relative/dir' must"),
        ({"LSTFLOW_CLUSTER_CGROUP": "v2"}, "LSTFLOW_CLUSTER_CGROUP='v2' must be auto, yes or no"),
        ({"LSTFLOW_CLUSTER_MINJOBAGE": "0"}, "LSTFLOW_CLUSTER_MINJOBAGE='0' must be a positive"),
        ({"LSTFLOW_CLUSTER_SSH_USER": "root"}, "must be a non-root user name"),
    ],
)
def test_bad_settings_are_refused_with_the_key_named(
    override: dict[str, str], message: str
) -> None:
    result = run_lib("load_settings", **override)

    assert result.returncode == 1
    assert message in result.stderr


def test_settings_are_the_defaults_file_overridden_by_the_environment() -> None:
    values = localcluster.settings({"LSTFLOW_CLUSTER_MINJOBAGE": "10", "UNRELATED": "x"})

    assert values["LSTFLOW_CLUSTER_MINJOBAGE"] == "10"
    assert values["LSTFLOW_CLUSTER_SSH_USER"] == "lstanalyzer"
    assert "UNRELATED" not in values


def test_key_value_parser_names_file_and_line_of_a_bad_line() -> None:
    text = "# comment\n\nA=1\nB=x=y\nnot a pair\n"

    with pytest.raises(localcluster.ClusterError, match=r"env:5: cannot parse 'not a pair'"):
        localcluster.parse_key_value_lines(text, "env")
    assert localcluster.parse_key_value_lines(text[:-11], "env") == {"A": "1", "B": "x=y"}


def test_connection_pins_the_host_key_recorded_for_the_port(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(
        "[127.0.0.1]:2222 ssh-ed25519 OTHERPORT\n[127.0.0.1]:16022 ssh-ed25519 AAAAKEY\n"
    )
    env = {
        "SLURM_SSH_HOST": "127.0.0.1",
        "SLURM_SSH_PORT": "16022",
        "SLURM_SSH_USER": "lstanalyzer",
        "SLURM_SSH_KEY": "/keys/id_ed25519",
        "SLURM_SSH_KNOWN_HOSTS": str(known_hosts),
    }

    connection = localcluster.airflow_connection(env)

    assert connection["conn_type"] == "ssh"
    assert (connection["host"], connection["port"], connection["login"]) == (
        "127.0.0.1",
        16022,
        "lstanalyzer",
    )
    assert connection["extra"] == {
        "key_file": "/keys/id_ed25519",
        "host_key": "ssh-ed25519 AAAAKEY",
    }
    assert "no_host_key_check" not in json.dumps(connection)


def test_missing_host_key_is_an_error() -> None:
    with pytest.raises(localcluster.ClusterError, match=r"no key for \[127.0.0.1\]:16022"):
        localcluster.known_host_key("[127.0.0.1]:2222 ssh-ed25519 K\n", "127.0.0.1", 16022)


def test_status_report_is_parsed() -> None:
    text = (
        "daemon munged 12\ndaemon sshd -\n"
        "partition short yes up 12:00:00 idle\npartition long no up 7-00:00:00 idle\n"
        "env_file /x/client/env\nup no\n"
    )

    report = localcluster.parse_status(text)

    assert report["daemons"] == {"munged": 12, "sshd": None}
    assert [p["name"] for p in report["partitions"]] == ["short", "long"]
    assert report["partitions"][0]["default"] is True
    assert report["env_file"] == "/x/client/env"
    assert report["up"] is False


def test_cluster_command_line_is_registered() -> None:
    parser = cli.build_parser()

    down = parser.parse_args(["cluster", "down", "--wipe"])
    up = parser.parse_args(["cluster", "up", "--no-airflow-connection"])

    assert down.wipe is True
    assert up.airflow_connection is False
    assert parser.parse_args(["cluster", "up"]).airflow_connection is None


def test_airflow_detection_needs_an_initialised_airflow_home(tmp_path: Path) -> None:
    assert localcluster.airflow_home_initialised({}) is False
    assert localcluster.airflow_home_initialised({"AIRFLOW_HOME": str(tmp_path)}) is False
    (tmp_path / "airflow.cfg").write_text("[core]\n")
    assert localcluster.airflow_home_initialised({"AIRFLOW_HOME": str(tmp_path)}) is True
