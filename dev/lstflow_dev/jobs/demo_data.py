"""Build the demo data set: a real DL1 template plus synthetic DL1 sets for the MC chain.

Shared by the demo and the end-to-end tests so both run the same data: the template comes
from running the real ``lstchain_mc_r0_to_dl1`` on the real ``history_meta_75`` file, and the
synthetic sets are sized so merge -> trainpipe -> dl1_to_dl2 -> IRFs runs in about a minute.
Every step skips work whose output already exists, so a rerun is cheap.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lstflow.jobs.common import JobError, write_json_atomic
from lstflow_dev import testdata
from lstflow_dev.jobs import synthetic_dl1

TEMPLATE_SIMTEL = "history_meta_75.simtel.zst"


@dataclass(frozen=True)
class SyntheticSet:
    """One directory of synthetic runs of one particle."""

    name: str
    particle: str
    runs: tuple[int, ...]
    n_showers: int


DEMO_SETS: tuple[SyntheticSet, ...] = (
    SyntheticSet("gamma_diffuse_train", "gamma_diffuse", (1, 2), 50_000),
    SyntheticSet("proton_train", "proton", (101, 102), 100_000),
    SyntheticSet("proton_test", "proton", (201, 202, 203), 200_000),
    SyntheticSet("gamma_test", "gamma", (301, 302), 30_000),
)


def lstchain_tool(name: str) -> str:
    """The path of an lstchain console script: next to this interpreter, else on PATH.

    Jobs may run with the analysis venv's python without its ``bin`` on PATH.
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise JobError(
            f"{name} not found next to {sys.executable} nor on PATH: is lstchain installed?"
        )
    return found


def make_dl1_template(output_dir: Path) -> Path:
    """Run the real ``lstchain_mc_r0_to_dl1`` on the real template simtel file (once)."""
    simtel = testdata.simtel_file(TEMPLATE_SIMTEL)
    template = output_dir / f"dl1_{TEMPLATE_SIMTEL.removesuffix('.simtel.zst')}.h5"
    if not template.exists():
        argv = [lstchain_tool("lstchain_mc_r0_to_dl1"), "-f", str(simtel), "-o", str(output_dir)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not template.exists():
            raise JobError(f"{' '.join(argv)} failed (exit {result.returncode}):\n{result.stderr}")
    return template


def build_synthetic_sets(
    template: Path, output_dir: Path, sets: tuple[SyntheticSet, ...] = DEMO_SETS
) -> dict[str, Path]:
    """Generate each set into ``output_dir/<name>/``; return the directories by set name."""
    directories = {}
    for spec in sets:
        directory = output_dir / spec.name
        missing = [
            run
            for run in spec.runs
            if not (directory / synthetic_dl1.output_name(spec.particle, run)).exists()
        ]
        if missing:
            synthetic_dl1.generate(template, spec.particle, missing, spec.n_showers, directory)
        directories[spec.name] = directory
    return directories


def write_training_config(path: Path, n_estimators: int = 20, max_depth: int = 20) -> Path:
    """lstchain's MC config with small forests and the usual quality cuts, for fast training."""
    from lstchain.io.config import get_mc_config

    if path.exists():
        return path
    config = get_mc_config()
    for key, value in config.items():
        if key.startswith("random_forest_") and key.endswith("_args"):
            value.update(n_estimators=n_estimators, max_depth=max_depth)
    infinity = float("inf")
    config["events_filters"] = {
        "intensity": [50, infinity],
        "width": [0, infinity],
        "length": [0, infinity],
        "wl": [0.1, 1],
        "r": [0, 1],
        "leakage_intensity_width_2": [0, 0.2],
    }
    write_json_atomic(path, config)
    return path
