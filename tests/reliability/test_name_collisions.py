"""Names that used to collide (issue #15, attack 7): two 261-character prod_ids passed
``lstflow validate`` and then shared one DAG id (Airflow cuts DAG ids at 250 characters)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.reliability

CHECKOUT = Path(__file__).resolve().parents[2]


def test_two_long_prod_ids_sharing_a_dag_id_are_refused(tmp_path: Path) -> None:
    paths = []
    for last in "ab":
        prod_id = "p" * 260 + last
        directory = tmp_path / last
        directory.mkdir()
        (directory / "lstchain_config.json").write_text("{}\n")
        config = {
            "workflow_kind": "lstchain",
            "prod_id": prod_id,
            "source_environment": {"source_file": f"{sys.prefix}/bin/activate"},
            "stages_to_run": ["merge_dl1"],
            "stages": {"merge_dl1": [{"input": "/data/in", "output": "/data/out.h5"}]},
        }
        paths.append(directory / "lstmcpipe_config.yaml")
        paths[-1].write_text(yaml.safe_dump(config, width=1000))
    result = subprocess.run(
        [sys.executable, "-m", "lstflow.cli", "validate", "--json", "--no-lstchain", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=CHECKOUT,
    )
    assert result.returncode == 1
    files = {Path(f["path"]): f for f in json.loads(result.stdout)["files"]}
    for path in paths:
        assert not files[path]["ok"]
        assert any("more than the 247 a DAG id allows" in e["text"] for e in files[path]["errors"])
