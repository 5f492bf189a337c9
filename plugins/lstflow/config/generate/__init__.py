"""Config generators, the equivalent of ``lstmcpipe_generate_config``: one module per family."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from lstflow.config.generate.allsky import (
    FROM_DL0,
    FROM_SOURCE_DL1,
    FROM_SOURCE_MERGED,
    AllSkyPlan,
    generate_allsky,
)
from lstflow.config.generate.builder import (
    GeneratedProduction,
    GenerationError,
    GenerationRequest,
)
from lstflow.config.generate.prod5 import generate_prod5_trans80


@dataclass(frozen=True)
class Kind:
    """A generator: ``lstmcpipe_class`` is written as ``prod_type`` (the library's habit)."""

    name: str
    lstmcpipe_class: str
    build: Callable[[GenerationRequest], GeneratedProduction]
    needs_dec_list: bool = True
    needs_source: bool = False
    description: str = ""


def _allsky(name: str, plan: AllSkyPlan, needs_source: bool, description: str) -> Kind:
    lstmcpipe_class = "PathConfig" + name
    build = partial(generate_allsky, plan, prod_type=lstmcpipe_class)
    return Kind(name, lstmcpipe_class, build, True, needs_source, description)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "Prod5Trans80",
            "PathConfigProd5Trans80",
            generate_prod5_trans80,
            needs_dec_list=False,
            description="prod5 trans-80, one zenith, gamma offsets 0.0/0.4 deg, train/test split",
        ),
        _allsky("AllSkyTraining", AllSkyPlan(FROM_DL0, None), False, "RF training per declination"),
        _allsky("AllSkyTesting", AllSkyPlan(None, FROM_DL0), False, "test nodes to DL2 and IRFs"),
        _allsky("AllSkyFull", AllSkyPlan(FROM_DL0, FROM_DL0), False, "training + testing"),
        _allsky(
            "AllSkyFullSplitDiffuse",
            AllSkyPlan(FROM_DL0, FROM_DL0, split_diffuse=True),
            False,
            "training + testing, diffuse gammas split into train/test halves",
        ),
        _allsky(
            "AllSkyFullDL1ab",
            AllSkyPlan(FROM_SOURCE_DL1, FROM_SOURCE_DL1),
            True,
            "training + testing from another production's DL1 (dl1ab)",
        ),
        _allsky(
            "AllTrainTestDL1b",
            AllSkyPlan(FROM_SOURCE_MERGED, FROM_SOURCE_MERGED, irfs=False),
            True,
            "train and DL2 from another production's merged DL1",
        ),
    )
}
ALIASES = {"TrainTestDL1b": "AllTrainTestDL1b"}


def find_kind(name: str) -> Kind:
    """A kind by its name, its lstmcpipe class name (``PathConfig...``) or an alias."""
    name = name.removeprefix("PathConfig")
    name = ALIASES.get(name, name)
    if name not in KINDS:
        raise GenerationError(f"unknown kind '{name}' (known kinds: {', '.join(KINDS)})")
    return KINDS[name]


def generate(kind_name: str, request: GenerationRequest) -> GeneratedProduction:
    """Build the config of ``kind_name``; ``GenerationError`` on missing arguments or data."""
    kind = find_kind(kind_name)
    if kind.needs_dec_list and not request.dec_list:
        raise GenerationError(f"{kind.name} needs --dec-list (e.g. --dec-list dec_2276 dec_3476)")
    if kind.needs_source and not request.source_prod_id:
        raise GenerationError(f"{kind.name} needs --source-prod-id (the production to reuse)")
    return kind.build(request)


__all__ = ["KINDS", "GeneratedProduction", "GenerationError", "GenerationRequest", "generate"]
