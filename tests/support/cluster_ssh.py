"""A shell command on a local cluster over its SSH connection, as a user would type it."""

from __future__ import annotations

from lstflow_dev import localcluster


def run_over_ssh(info: localcluster.ClusterInfo, command: str) -> tuple[int, str, str]:
    client = info.ssh_client()
    try:
        _, stdout, stderr = client.exec_command(command, timeout=60)
        exit_status = stdout.channel.recv_exit_status()
        return exit_status, stdout.read().decode(), stderr.read().decode()
    finally:
        client.close()
