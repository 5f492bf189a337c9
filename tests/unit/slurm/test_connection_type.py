"""The ``slurm`` connection type as Airflow's connection form sees it, and the extras the hook
reads from a ``slurm`` or an ``ssh`` connection."""

from __future__ import annotations

import json
import subprocess
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

from lstflow.provider_info import get_provider_info
from lstflow.slurm.hook import SlurmHook

pytestmark = pytest.mark.unit


def test_provider_info_is_valid_for_airflow() -> None:
    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_connection_form_offers_slurm_with_its_fields() -> None:
    """What ``GET /ui/connections/hook_meta`` gives the Admin -> Connections -> + form."""
    (slurm,) = [
        meta for meta in HookMetaService.hook_meta_data() if meta.connection_type == "slurm"
    ]

    assert slurm.hook_name == "Slurm (lstflow)"
    assert slurm.hook_class_name == "lstflow.slurm.hook.SlurmHook"
    extra = slurm.extra_fields or {}
    assert {name: field["schema"]["title"] for name, field in extra.items()} == {
        "key_file": "Private key file",
        "host_key": "Pinned host key",
    }
    fields = slurm.standard_fields
    assert fields is not None
    assert fields.url_schema is not None and fields.url_schema.hidden
    assert fields.password is not None and fields.password.hidden
    assert fields.host is not None and fields.host.title == "Login node"
    assert fields.login is not None and fields.login.title == "Cluster user"
    assert fields.port is not None and fields.port.placeholder == "22"


@pytest.fixture(scope="module")
def host_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    key = tmp_path_factory.mktemp("keys") / "host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    kind, data, _ = Path(f"{key}.pub").read_text().split(" ", 2)
    return f"{kind} {data}"


@pytest.mark.parametrize("conn_type", ["slurm", "ssh"])
def test_hook_reads_the_same_extras_from_slurm_and_ssh_connections(
    conn_type: str, host_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = {
        "conn_type": conn_type,
        "host": "login.cluster.example.org",
        "port": 2222,
        "login": "lstanalyzer",
        "extra": {"key_file": "/etc/lstflow/id_ed25519", "host_key": host_key},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SITE_CLUSTER", json.dumps(connection))

    ssh = SlurmHook("site_cluster").ssh_hook

    assert (ssh.remote_host, ssh.port, ssh.username) == (
        "login.cluster.example.org",
        2222,
        "lstanalyzer",
    )
    assert ssh.key_file == "/etc/lstflow/id_ed25519"
    assert ssh.host_key is not None
    assert f"{ssh.host_key.get_name()} {ssh.host_key.get_base64()}" == host_key
