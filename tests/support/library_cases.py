"""Configs written for the tests in the shapes of the real lstmcpipe library's hard cases.

- ``LEGACY_2022``: a 2022 production whose entries carry the deprecated ``slurm_options`` string
  with sbatch's short options (``-p long``, ``-p xxl --mem=100G --cpus-per-task=16``).
- ``write_shared_prod_id_library``: three configs sharing one prod_id across two directories (the
  full production, a partial rerun beside it, a ``merge_restart.yml`` in a later production's
  directory, next to that production's own config), plus a training entry with xxl/160G options
  and its feature-importance plot job.

``data_root`` is written into the paths, so a test can point them at real files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SHARED_PROD_ID = "20240131_allsky_base"
LATER_PROD_ID = "20240918_allsky_nsb_grid_nsb0.38"

HEADER = """\
workflow_kind: lstchain
prod_id: {prod_id}
source_environment:
  source_file: {source_file}
slurm_config:
  user_account: {account}
"""

LEGACY_2022 = """\
# 2022: lstmcpipe_generate_config with the per-entry slurm_options string of the time
workflow_kind: lstchain
prod_id: 20220523_allsky_legacy
source_environment:
  source_file: /opt/conda/etc/profile.d/conda.sh
  conda_env: lstchain-v0.9.6
slurm_config:
  user_account: dpps
stages_to_run: [r0_to_dl1, merge_dl1, train_pipe, dl1_to_dl2]
stages:
  r0_to_dl1:
  - input: /data/DL0/GammaDiffuse/node_a/
    output: /data/DL1/GammaDiffuse/node_a
  merge_dl1:
  - input: /data/DL1/GammaDiffuse
    output: /data/DL1/GammaDiffuse/dl1_GammaDiffuse_merged.h5
    options: --pattern */*.h5 --no-image
    slurm_options: -p long
  - input: /data/DL1/Protons
    output: /data/DL1/Protons/dl1_Protons_merged.h5
    options: --pattern */*.h5 --no-image
    slurm_options: -plong
  train_pipe:
  - input:
      gamma: /data/DL1/GammaDiffuse/dl1_GammaDiffuse_merged.h5
      proton: /data/DL1/Protons/dl1_Protons_merged.h5
    output: /data/models/dec_6676
    slurm_options: -p xxl --mem=100G --cpus-per-task=16
  dl1_to_dl2:
  - input: /data/DL1/test/dl1_node_x_merged.h5
    path_model: /data/models/dec_6676
    output: /data/DL2/dec_6676/node_x
    slurm_options: --mem=50GB
"""


def _full(data_root: str) -> str:
    return f"""\
stages_to_run: [r0_to_dl1, merge_dl1, train_pipe, dl1_to_dl2, dl2_to_irfs]
stages:
  r0_to_dl1:
  - input: {data_root}/DL0/gamma
    output: {data_root}/DL1/gamma
  - input: {data_root}/DL0/proton
    output: {data_root}/DL1/proton
  merge_dl1:
  - input: {data_root}/DL1/gamma
    output: {data_root}/DL1/merged/dl1_gamma_merged.h5
    options: --no-image
    slurm_options: -p long
  - input: {data_root}/DL1/proton
    output: {data_root}/DL1/merged/dl1_proton_merged.h5
    options: --no-image
    slurm_options: -p long
  train_pipe:
  - input:
      gamma: {data_root}/DL1/merged/dl1_gamma_merged.h5
      proton: {data_root}/DL1/merged/dl1_proton_merged.h5
    output: {data_root}/models/dec_2276
    slurm_options: -p xxl --mem=100G --cpus-per-task=16
    extra_slurm_options:
      partition: xxl
      mem: 160G
      cpus-per-task: 16
      time: 03-00:00:00
      nice: 10
  dl1_to_dl2:
  - input: {data_root}/DL1/merged/dl1_gamma_merged.h5
    path_model: {data_root}/models/dec_2276
    output: {data_root}/DL2/gamma
    extra_slurm_options:
      mem: 60GB
  dl2_to_irfs:
  - input:
      gamma_file: {data_root}/DL2/gamma/dl2_gamma_merged.h5
      proton_file:
      electron_file:
    output: {data_root}/IRF/irf_gamma.fits.gz
    options: --point-like
"""


def _partial(data_root: str) -> str:
    """A rerun of the proton DL1 only: the one a real-cluster test runs (small resources)."""
    return f"""\
# rerun of the proton DL1 after a node failure: partial copy of the full config
stages_to_run: [r0_to_dl1, merge_dl1]
stages:
  r0_to_dl1:
  - input: {data_root}/DL0/proton
    output: {data_root}/DL1/proton
    slurm_options: -p short --mem=3G -t 00:20:00
  merge_dl1:
  - input: {data_root}/DL1/proton
    output: {data_root}/DL1/merged/dl1_proton_merged.h5
    options: --no-image --no-progress
    slurm_options: -pshort --mem 2G
"""


def _merge_restart(data_root: str) -> str:
    return f"""\
# re-runs the merges of the earlier production {SHARED_PROD_ID}
stages_to_run: [merge_dl1]
stages:
  merge_dl1:
  - input: {data_root}/DL1/gamma
    output: {data_root}/DL1/merged/dl1_gamma_merged.h5
    options: --no-image
    extra_slurm_options: {{partition: long, time: '06:00:00'}}
"""


def _later(data_root: str) -> str:
    return f"""\
stages_to_run: [merge_dl1]
stages:
  merge_dl1:
  - input: {data_root}/NSB-0.38/DL1/gamma
    output: {data_root}/NSB-0.38/DL1/dl1_gamma_merged.h5
"""


@dataclass(frozen=True)
class SharedProdIdLibrary:
    root: Path
    full: Path
    partial: Path
    merge_restart: Path
    later: Path

    def label(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def write_shared_prod_id_library(
    root: Path, data_root: str, source_file: str = "/opt/venv/bin/activate", account: str = ""
) -> SharedProdIdLibrary:
    """Write the library (an lstchain JSON and a README in each directory) under ``root``."""
    first = root / SHARED_PROD_ID
    later = root / "20240918_allsky_nsb_grid" / "NSB-0.38"
    files = SharedProdIdLibrary(
        root=root,
        full=first / "lstmcpipe_config_2024-01-31_PathConfigAllSkyFull.yaml",
        partial=first / "lstmcpipe_config_2024-01-31_PathConfigAllSkyFull_rerun_proton.yaml",
        merge_restart=later / "merge_restart.yml",
        later=later / "lstmcpipe_config_nsb0.38.yml",
    )
    for directory, title in ((first, SHARED_PROD_ID), (later, LATER_PROD_ID)):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "lstchain_config.json").write_text("{}\n")
        (directory / "README.md").write_text(f"# {title}\n")
    header = HEADER.format(prod_id=SHARED_PROD_ID, source_file=source_file, account=account)
    files.full.write_text(header + _full(data_root))
    files.partial.write_text(header + _partial(data_root))
    files.merge_restart.write_text(header + _merge_restart(data_root))
    later_header = HEADER.format(prod_id=LATER_PROD_ID, source_file=source_file, account=account)
    files.later.write_text(later_header + _later(data_root))
    return files
