"""An NSB grid: one AllSky production per NSB level, all on the same declinations.

The shape of the library's largest production (2024, written by a script): for each level an
``NSB-x.xx/`` directory with a full AllSky production with split diffuse gammas (merged training
DL1 per declination, one training per declination, DL2 and IRFs per test node), whose lstchain
config adds that much NSB to the simulated waveforms (``waveform_nsb_tuning``), and a README.
Each level is a production of its own: ``{prefix}_allsky_nsb_tuning_{x.xx}``.
"""

from __future__ import annotations

from dataclasses import replace

from lstflow.config.generate.allsky import FROM_DL0, AllSkyPlan, generate_allsky
from lstflow.config.generate.builder import (
    GeneratedProduction,
    GenerationError,
    GenerationRequest,
)

GRID_PLAN = AllSkyPlan(FROM_DL0, FROM_DL0, split_diffuse=True, diffuse_testing=True)
GRID_PROD_TYPE = "PathConfigAllSkyFullSplitDiffuse"  # what the 2024 grid's configs record
NSB_BLOCK = "waveform_nsb_tuning"


def nsb_label(level: str) -> str:
    """``"0.07"`` or ``".07"`` -> ``"0.07"``; ``GenerationError`` for anything but a rate >= 0."""
    try:
        rate = float(level)
    except ValueError:
        raise GenerationError(f"NSB level '{level}' is not a number (e.g. 0.07, in GHz)") from None
    if not rate >= 0:
        raise GenerationError(f"NSB level '{level}' must be a rate >= 0 (GHz)")
    return f"{rate:.2f}"


def generate_nsb_grid(request: GenerationRequest) -> tuple[GeneratedProduction, ...]:
    """One production per level of ``request.nsb_levels``; ``request.prod_id`` is the prefix."""
    labels = [nsb_label(level) for level in request.nsb_levels]
    if not labels:
        raise GenerationError("AllSkyNsbGrid needs --nsb-levels (e.g. --nsb-levels 0.00 0.07)")
    if len(set(labels)) != len(labels):
        raise GenerationError(f"NSB levels repeat: {' '.join(labels)}")
    productions = []
    for label in labels:
        prod_id = f"{request.prod_id}_allsky_nsb_tuning_{label}"
        generated = generate_allsky(GRID_PLAN, replace(request, prod_id=prod_id), GRID_PROD_TYPE)
        rate = float(label)
        productions.append(
            replace(
                generated,
                directory=f"NSB-{label}",
                lstchain_settings=(
                    (NSB_BLOCK, "nsb_tuning", rate > 0),
                    (NSB_BLOCK, "nsb_tuning_rate_GHz", rate),
                ),
                description=(
                    f"NSB level {label} GHz of the grid {request.prod_id} (declinations "
                    f"{', '.join(request.dec_list)})."
                ),
            )
        )
    return tuple(productions)
