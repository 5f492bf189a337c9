"""Shared helpers of the config tests: where the real samples are, a minimal config."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lstflow.config import SourceEnvironment
from lstflow.config.generate import GenerationRequest

CHECKOUT_ROOT = Path(__file__).resolve().parents[3]


def sample_data_root() -> Path:
    """``../shared/data`` from the checkout root; ``LSTFLOW_TEST_DATA`` overrides it."""
    override = os.environ.get("LSTFLOW_TEST_DATA")
    return Path(override) if override else CHECKOUT_ROOT.parent / "shared" / "data"


MINIMAL = """\
workflow_kind: lstchain
prod_id: {prod_id}
source_environment:
  source_file: /opt/conda/etc/profile.d/conda.sh
  conda_env: lstchain-v0.12.3
slurm_config:
  user_account: aswg
stages_to_run: [r0_to_dl1, merge_dl1]
stages:
  r0_to_dl1:
  - input: /data/DL0/gamma
    output: /data/DL1/gamma
    extra_slurm_options:
      time: 11:30:00
      mem: 50GB
  merge_dl1:
  - input: /data/DL1/gamma
    output: /data/DL1/gamma_merged.h5
    options: --no-image
"""

WriteConfig = Callable[..., Path]


# ---- config generation: a synthetic DL0 tree (fixture ``data_root``) ----

GD_NODES = ("node_corsika_theta_10.0_az_20.0_", "node_corsika_theta_30.0_az_40.0_")
TEST_NODES = ("node_theta_20.0_az_180.0_", "node_theta_40.0_az_90.0_")
ONLY_PROTON = "node_corsika_theta_50.0_az_60.0_"


def touch_simtel(directory: Path, name: str = "run1.simtel.zst") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(b"")


def request(root: Path, **changes: object) -> GenerationRequest:
    base = GenerationRequest(
        prod_id="gen",
        data_root=str(root),
        scan_root=root,
        source_environment=SourceEnvironment("/opt/venv/bin/activate"),
        user_account="aswg",
        dec_list=("dec_2276", "dec_3476"),
        source_prod_id="src",
    )
    return replace(base, **changes)  # type: ignore[arg-type]
