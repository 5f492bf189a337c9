"""Job-side helpers run as real processes: simulate, provenance fragments, night close."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import prov
import pytest
from prov.model import ProvActivity, ProvEntity, ProvMembership, ProvUsage

pytestmark = pytest.mark.unit

PLUGINS = str(Path(__file__).resolve().parents[3] / "plugins")


def run_module(
    module: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PYTHONPATH": PLUGINS, "PATH": "/usr/bin:/bin", **(env or {})},
        check=False,
        timeout=60,
    )


def test_simulate_prints_the_quoted_command_and_creates_nothing(tmp_path: Path) -> None:
    result = run_module(
        "lstflow.jobs.simulate",
        "--key",
        "r0_to_dl1.01807.0001",
        "--",
        "lstchain_check_dl1",
        "--input-file=/d/x.*.h5",
        "--batch",
        cwd=tmp_path,
    )
    assert result.returncode == 0
    assert result.stdout == "SIMULATE: lstchain_check_dl1 '--input-file=/d/x.*.h5' --batch\n"
    assert list(tmp_path.iterdir()) == []


def test_fail_once_marker_fails_exactly_one_try(tmp_path: Path) -> None:
    markers = tmp_path / "fail_once"
    markers.mkdir()
    (markers / "r0_to_dl1.01807.0001").touch()
    args = ("--fail-once-dir", str(markers), "--", "lstchain_dl1ab", "-f", "a.h5")
    other = run_module(
        "lstflow.jobs.simulate", "--key", "r0_to_dl1.01807.0000", *args, cwd=tmp_path
    )
    first = run_module(
        "lstflow.jobs.simulate", "--key", "r0_to_dl1.01807.0001", *args, cwd=tmp_path
    )
    retry = run_module(
        "lstflow.jobs.simulate", "--key", "r0_to_dl1.01807.0001", *args, cwd=tmp_path
    )
    assert (other.returncode, first.returncode, retry.returncode) == (0, 1, 0)
    assert "SIMULATE-FAILED-ONCE: r0_to_dl1.01807.0001" in first.stderr
    assert retry.stdout == "SIMULATE: lstchain_dl1ab -f a.h5\n"
    assert list(markers.iterdir()) == []


def test_provenance_fragments_and_night_merge(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("input")
    config = tmp_path / "config.json"
    config.write_text("{}")
    out = tmp_path / "out.txt"
    fragments = tmp_path / "prov"
    copy = f"import shutil; shutil.copy({str(source)!r}, {str(out)!r})"
    result = run_module(
        "lstflow.jobs.provenance",
        "record",
        "--activity",
        "merge_dl1.01807",
        "--fragment",
        str(fragments / "merge_dl1.01807.json"),
        f"--input={source}",
        f"--output={out}",
        "--",
        sys.executable,
        "-c",
        copy,
        f"--config={config}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    fragment = json.loads((fragments / "merge_dl1.01807.json").read_text())
    sha_input = hashlib.sha256(b"input").hexdigest()
    assert fragment["used"] == [
        {"path": str(source), "exists": True, "size": 5, "sha256": sha_input}
    ]
    assert fragment["generated"][0]["sha256"] == sha_input
    assert fragment["configs"][0]["path"] == str(config)
    assert fragment["software"]["lstchain"] == "0.12.3"

    failing = run_module(
        "lstflow.jobs.provenance",
        "record",
        "--activity",
        "bad",
        "--fragment",
        str(fragments / "bad.json"),
        "--",
        sys.executable,
        "-c",
        "raise SystemExit(3)",
        cwd=tmp_path,
    )
    assert failing.returncode == 3
    assert not (fragments / "bad.json").exists()

    night = tmp_path / "provenance_20200117.json"
    merged = run_module(
        "lstflow.jobs.provenance",
        "merge",
        "--fragments-dir",
        str(fragments),
        "--output",
        str(night),
        cwd=tmp_path,
    )
    assert merged.returncode == 0, merged.stderr
    document = prov.read(night, format="json")
    (activity,) = document.get_records(ProvActivity)
    assert str(activity.identifier) == "lstflow:merge_dl1.01807"
    assert next(iter(activity.get_attribute("lstflow:command"))).startswith(sys.executable)
    locations = {
        str(next(iter(e.get_attribute("prov:location")))) for e in document.get_records(ProvEntity)
    }
    assert locations == {str(source), str(out)}
    used = [(str(u.args[0]), str(u.args[1])) for u in document.get_records(ProvUsage)]
    assert used == [("lstflow:merge_dl1.01807", str(file_entity_id(source)))]


def file_entity_id(path: Path) -> str:
    return f"lstflow:file_{hashlib.md5(str(path).encode()).hexdigest()}"


def test_subruns_collapse_into_collections_one_document_per_run(tmp_path: Path) -> None:
    """Simulated fragments (what simulate mode writes) of two runs, with the calibration."""
    fragments = tmp_path / "provenance.simulate"
    keys = ["charge_calibration.01806", "r0_to_dl1.01807.0000", "r0_to_dl1.01807.0001"]
    keys += ["r0_to_dl1.01808.0000", "longterm_datacheck"]
    for key in keys:
        result = run_module(
            "lstflow.jobs.simulate",
            "--key",
            key,
            "--fragment",
            str(fragments / f"{key}.json"),
            f"--input=/R0G/{key}.fits.fz",
            f"--output=/DL1/{key}.h5",
            "--",
            "lstchain_tool",
            f"--key={key}",
            cwd=tmp_path,
            env={"SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "1"},
        )
        assert result.returncode == 0, result.stderr
    night, run = tmp_path / "night.json", tmp_path / "calibration_to_dl2_01807_prov.json"
    merged = run_module(
        "lstflow.jobs.provenance",
        "merge",
        "--fragments-dir",
        str(fragments),
        "--output",
        str(night),
        f"--run-document=1807={run}",
        cwd=tmp_path,
    )
    assert merged.returncode == 0, merged.stderr
    activities = {
        str(a.identifier): a for a in prov.read(night, format="json").get_records(ProvActivity)
    }
    assert set(activities) == {
        "lstflow:charge_calibration.01806",
        "lstflow:r0_to_dl1.01807",
        "lstflow:r0_to_dl1.01808",
        "lstflow:longterm_datacheck",
    }
    collapsed = activities["lstflow:r0_to_dl1.01807"]
    assert sorted(collapsed.get_attribute("lstflow:command")) == [
        "lstchain_tool --key=r0_to_dl1.01807.0000",
        "lstchain_tool --key=r0_to_dl1.01807.0001",
    ]
    assert set(collapsed.get_attribute("lstflow:slurm_job_id")) == {"77_1"}
    assert set(collapsed.get_attribute("lstflow:simulated")) == {True}
    run_document = prov.read(run, format="json")
    assert {str(a.identifier) for a in run_document.get_records(ProvActivity)} == {
        "lstflow:charge_calibration.01806",
        "lstflow:r0_to_dl1.01807",
    }
    members = [(str(m.args[0]), str(m.args[1])) for m in run_document.get_records(ProvMembership)]
    subruns = ("r0_to_dl1.01807.0000", "r0_to_dl1.01807.0001")
    assert sorted(members) == sorted(
        [
            *(
                (
                    "lstflow:r0_to_dl1.01807.usedCollection",
                    file_entity_id(Path(f"/R0G/{k}.fits.fz")),
                )
                for k in subruns
            ),
            *(
                (
                    "lstflow:r0_to_dl1.01807.generatedCollection",
                    file_entity_id(Path(f"/DL1/{k}.h5")),
                )
                for k in subruns
            ),
        ]
    )


def test_night_close_requires_outputs_and_is_idempotent(tmp_path: Path) -> None:
    needed = tmp_path / "DL1_datacheck_20200117.h5"
    marker = tmp_path / "Closer/20200117/v0.12.3/NightFinished.txt"
    args = (
        "--night",
        "2020-01-17",
        "--prod-id",
        "v0.12.3",
        "--marker",
        str(marker),
        "--require",
        str(needed),
    )
    refused = run_module("lstflow.jobs.night_close", *args, cwd=tmp_path)
    assert refused.returncode == 1
    assert "missing" in refused.stderr
    assert not marker.exists()
    needed.touch()
    assert run_module("lstflow.jobs.night_close", *args, cwd=tmp_path).returncode == 0
    record = json.loads(marker.read_text())
    assert (record["night"], record["prod_id"]) == ("2020-01-17", "v0.12.3")
    again = run_module("lstflow.jobs.night_close", *args, cwd=tmp_path)
    assert again.returncode == 0
    assert "already closed" in again.stdout
    assert json.loads(marker.read_text()) == record


def test_planner_imports_stay_light(tmp_path: Path) -> None:
    """The Airflow side plans nights without astropy/numpy/lstchain, and never needs the Slurm
    layer; job-side modules never import Airflow."""
    code = (
        "import sys\n"
        "import lstflow.onsite.plan, lstflow.onsite.tasks, lstflow.onsite.status\n"
        "import lstflow.jobs.simulate, lstflow.jobs.provenance\n"
        "import lstflow.jobs.night_close\n"
        "heavy = ('astropy', 'numpy', 'lstchain', 'ctapipe', 'airflow', 'lstflow.slurm')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": PLUGINS, "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"
