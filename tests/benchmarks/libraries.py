"""Synthetic production libraries, made with ``lstflow generate-config`` and cached.

Two templates are generated from a synthetic DL0 tree (empty files with LSTProd2 names):
``nsb_grid`` is shaped like the library's largest config (9 declinations, diffuse split,
~3,400 entries, ~2 MB) and ``median`` like its median one (~330 entries). Libraries are copies
of the templates with their own prod_id (each copy is a distinct production and DAG).
Paths in the templates are written as ``${LSTFLOW_BENCH_DATA}`` and replaced by each copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import BENCH_DIR, lstflow_env

DATA_VAR = "${LSTFLOW_BENCH_DATA}"
#: What La Palma's paths look like: copies for parsing use it, so sizes are realistic.
LA_PALMA_ROOT = "/fefs/aswg/data"
LA_PALMA_CONDA = "/fefs/aswg/software/conda/etc/profile.d/conda.sh"
TEMPLATE_DIR = BENCH_DIR / "templates"
LIBRARY_DIR = BENCH_DIR / "libraries"


@dataclass(frozen=True)
class Template:
    """A generated production: AllSky kind, declinations and node counts of its DL0 tree."""

    name: str
    kind: str
    prod_id: str
    decs: int
    train_nodes: int
    test_nodes: int
    conda_env: str

    @property
    def dec_list(self) -> list[str]:
        return [f"dec_{2276 + 100 * number}" for number in range(self.decs)]

    @property
    def directory(self) -> Path:
        return TEMPLATE_DIR / self.name

    def yaml(self) -> Path:
        return next(self.directory.glob("lstmcpipe_config_*.yaml"))


NSB_GRID = Template(
    "nsb_grid",
    "AllSkyFullSplitDiffuse",
    "20240918_v0.10.12_allsky_nsb_tuning_0.14",
    decs=9,
    train_nodes=23,
    test_nodes=107,
    conda_env="lstchain-v0.10.12",
)
MEDIAN = Template(
    "median",
    "AllSkyFull",
    "20240501_v0.10.7_allsky_median_prod",
    decs=1,
    train_nodes=40,
    test_nodes=60,
    conda_env="lstchain-v0.10.7",
)
FILES_PER_NODE = 3


def node_name(number: int, salt: int) -> str:
    return f"node_corsika_theta_{10 + number * 1.5:.3f}_az_{(salt * 37) % 360 + 0.123:.3f}_"


def build_dl0(root: Path, template: Template) -> None:
    """Empty simtel files in LSTProd2's layout: what the generator scans and r0_to_dl1 lists."""
    base = root / "mc" / "DL0" / "LSTProd2"
    nodes = [
        base / "TrainingDataset" / particle / dec / "sim_telarray" / node_name(number, salt)
        for salt, dec in enumerate(template.dec_list)
        for particle in ("GammaDiffuse", "Protons")
        for number in range(template.train_nodes)
    ]
    nodes += [
        base / "TestDataset" / "sim_telarray" / node_name(number, 100)
        for number in range(template.test_nodes)
    ]
    for node in nodes:
        files = node / "output_v1.4"
        files.mkdir(parents=True, exist_ok=True)
        for run in range(FILES_PER_NODE):
            (files / f"sim_telarray_corsika_run{run + 1}.simtel.gz").touch()


def ensure_template(template: Template) -> Template:
    """Generate the template once (the lstchain config dump takes seconds); cached after."""
    if template.directory.is_dir() and list(template.directory.glob("*.yaml")):
        return template
    scan_root = TEMPLATE_DIR / f"{template.name}-dl0"
    build_dl0(scan_root, template)
    argv = [sys.executable, "-m", "lstflow.cli", "generate-config", template.kind]
    argv += ["--prod-id", template.prod_id, "--data-root", DATA_VAR]
    argv += ["-o", str(template.directory), "--dec-list", *template.dec_list, "--overwrite"]
    argv += ["--source-file", LA_PALMA_CONDA, "--conda-env", template.conda_env]
    argv += ["--user-account", "dpps"]
    env = lstflow_env({"LSTFLOW_BENCH_DATA": str(scan_root)})
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=600)
    shutil.rmtree(scan_root)
    return template


def copy_production(
    template: Template, destination: Path, prod_id: str, data_root: str, edit: dict[str, str]
) -> Path:
    """A copy of ``template`` as production ``prod_id`` with paths under ``data_root``.

    ``edit`` replaces literal strings in the YAML (e.g. resources that fit the local node).
    """
    ensure_template(template)
    destination.mkdir(parents=True, exist_ok=True)
    text = template.yaml().read_text()
    text = text.replace(template.prod_id, prod_id).replace(DATA_VAR, data_root)
    for old, new in edit.items():
        text = text.replace(old, new)
    target = destination / f"lstmcpipe_config_{prod_id}.yaml"
    target.write_text(text)
    for extra in template.directory.glob("*.json"):
        shutil.copy(extra, destination / f"lstchain_config_{prod_id}.json")
    return target


@dataclass(frozen=True)
class LibrarySpec:
    """``counts`` copies of each template, one directory per production."""

    name: str
    counts: tuple[tuple[Template, int], ...]


LIBRARIES = (
    LibrarySpec("single_3400_entries", ((NSB_GRID, 1),)),
    LibrarySpec("synthetic_100", ((MEDIAN, 100),)),
    LibrarySpec("synthetic_1000", ((MEDIAN, 1000),)),
    # The real library: 93 configs, 46.5 MB, 20 of them about 2 MB.
    LibrarySpec("real_library_shape", ((NSB_GRID, 20), (MEDIAN, 73))),
)


def ensure_library(spec: LibrarySpec) -> Path:
    """The library's directory, built once (a ``.complete`` marker records a finished build)."""
    root = LIBRARY_DIR / spec.name
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    for template, count in spec.counts:
        for number in range(count):
            prod_id = f"{template.prod_id}_{number:04d}" if count > 1 else template.prod_id
            copy_production(template, root / prod_id, prod_id, LA_PALMA_ROOT, {})
    (root / ".complete").touch()
    return root


def library_size(root: Path) -> tuple[int, float]:
    """(number of production YAMLs, their total size in MB)."""
    files = [*root.rglob("*.yaml"), *root.rglob("*.yml")]
    return len(files), sum(path.stat().st_size for path in files) / 1e6
