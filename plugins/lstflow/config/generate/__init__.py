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
from lstflow.config.generate.nsb_grid import GRID_PROD_TYPE, generate_nsb_grid
from lstflow.config.generate.prod5 import generate_prod5_trans80, generate_prod5_trans80_dl1ab

Build = Callable[[GenerationRequest], tuple[GeneratedProduction, ...]]


@dataclass(frozen=True)
class Kind:
    """A generator: ``lstmcpipe_class`` is written as ``prod_type`` (the library's habit).

    ``build`` gives one production, or several (an NSB grid: one per level).
    """

    name: str
    lstmcpipe_class: str
    build: Build
    needs_dec_list: bool = True
    needs_source: bool = False
    description: str = ""


def _single(build: Callable[[GenerationRequest], GeneratedProduction]) -> Build:
    return lambda request: (build(request),)


def _allsky(name: str, plan: AllSkyPlan, needs_source: bool, description: str) -> Kind:
    lstmcpipe_class = "PathConfig" + name
    build = _single(partial(generate_allsky, plan, prod_type=lstmcpipe_class))
    return Kind(name, lstmcpipe_class, build, True, needs_source, description)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "Prod5Trans80",
            "PathConfigProd5Trans80",
            _single(generate_prod5_trans80),
            needs_dec_list=False,
            description="prod5 trans-80, one zenith, gamma offsets 0.0/0.4 deg, train/test split",
        ),
        Kind(
            "Prod5Trans80DL1ab",
            "PathConfigProd5Trans80DL1ab",
            _single(generate_prod5_trans80_dl1ab),
            needs_dec_list=False,
            needs_source=True,
            description="prod5 trans-80 from another production's split DL1 (dl1ab)",
        ),
        _allsky("AllSkyTraining", AllSkyPlan(FROM_DL0, None), False, "RF training per declination"),
        _allsky(
            "AllSkyTrainingWithSplit",
            AllSkyPlan(FROM_DL0, None, split_diffuse=True),
            False,
            "RF training per declination on the train half of the split diffuse gammas",
        ),
        _allsky("AllSkyTesting", AllSkyPlan(None, FROM_DL0), False, "test nodes to DL2 and IRFs"),
        _allsky(
            "AllSkyTestingGammaDiffuse",
            AllSkyPlan(None, None, diffuse_testing=True),
            False,
            "the test half of the split diffuse gammas merged, to DL2 and IRFs",
        ),
        _allsky("AllSkyFull", AllSkyPlan(FROM_DL0, FROM_DL0), False, "training + testing"),
        _allsky(
            "AllSkyFullSplitDiffuse",
            AllSkyPlan(FROM_DL0, FROM_DL0, split_diffuse=True, diffuse_testing=True),
            False,
            "training + testing, diffuse gammas split into train/test halves",
        ),
        _allsky(
            "AllSkyTrainingDL1ab",
            AllSkyPlan(FROM_SOURCE_DL1, None),
            True,
            "RF training per declination from another production's DL1 (dl1ab)",
        ),
        _allsky(
            "AllSkyTestingDL1ab",
            AllSkyPlan(None, FROM_SOURCE_DL1),
            True,
            "test nodes from another production's DL1 (dl1ab) to DL2 and IRFs",
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
        Kind(
            "AllSkyNsbGrid",
            GRID_PROD_TYPE,
            generate_nsb_grid,
            description="one AllSkyFullSplitDiffuse production per NSB level (--nsb-levels), in "
            "NSB-x.xx/ directories, with the NSB tuning in each lstchain config",
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


def generate_all(kind_name: str, request: GenerationRequest) -> tuple[GeneratedProduction, ...]:
    """The productions of ``kind_name``; ``GenerationError`` on missing arguments or data."""
    kind = find_kind(kind_name)
    if kind.needs_dec_list and not request.dec_list:
        raise GenerationError(f"{kind.name} needs --dec-list (e.g. --dec-list dec_2276 dec_3476)")
    if kind.needs_source and not request.source_prod_id:
        raise GenerationError(f"{kind.name} needs --source-prod-id (the production to reuse)")
    return kind.build(request)


def generate(kind_name: str, request: GenerationRequest) -> GeneratedProduction:
    """The one production of ``kind_name`` (``generate_all`` for kinds that make several)."""
    productions = generate_all(kind_name, request)
    if len(productions) != 1:
        raise GenerationError(f"{kind_name} makes {len(productions)} productions: use generate_all")
    return productions[0]


__all__ = [
    "KINDS",
    "GeneratedProduction",
    "GenerationError",
    "GenerationRequest",
    "generate",
    "generate_all",
]
