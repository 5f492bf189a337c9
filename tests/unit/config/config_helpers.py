"""Shared helpers of the config tests: where the real samples are, a minimal config."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

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
