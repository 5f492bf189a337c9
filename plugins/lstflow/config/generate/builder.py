"""What every generator shares: entries collected per stage, and the result it returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstflow.config.model import (
    STAGE_ORDER,
    ProductionConfig,
    SlurmConfig,
    SourceEnvironment,
    StageEntry,
)


class GenerationError(Exception):
    """The generator cannot produce a usable config (bad arguments, no data at all)."""


@dataclass(frozen=True)
class GenerationRequest:
    """The generator's inputs; ``data_root`` is written into the config as given."""

    prod_id: str
    data_root: str
    source_environment: SourceEnvironment
    scan_root: Path  # ``data_root`` with ${VARS} expanded: where DL0 and sources are looked up
    user_account: str | None = None
    dec_list: tuple[str, ...] = ()
    source_prod_id: str | None = None
    zenith: str = "zenith_20deg"
    nsb_levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeneratedProduction:
    """A generated config plus what the generator could not find (reported, never hidden).

    ``keep_pointing_features``: whether the RF feature lists keep alt_tel/az_tel/sin_az_tel
    (a single-pointing production has them constant, so they are dropped). ``directory``: where
    it goes under the output directory (``NSB-0.07`` for a grid level, else the directory
    itself); ``lstchain_settings``: ``(block, key, value)`` set in the standard lstchain config;
    ``description``: the README's first paragraph.
    """

    config: ProductionConfig
    missing: tuple[str, ...]
    keep_pointing_features: bool
    directory: str = ""
    lstchain_settings: tuple[tuple[str, str, object], ...] = ()
    description: str = ""


class StagesBuilder:
    """Accumulates entries; each gets its index in its stage's list."""

    def __init__(self) -> None:
        self._entries: dict[str, list[StageEntry]] = {}
        self.missing: list[str] = []

    def add(self, cls: type[StageEntry], **fields: Any) -> None:
        entries = self._entries.setdefault(cls.STAGE, [])
        options = fields.pop("extra_slurm_options", {})
        entries.append(
            cls(index=len(entries), extra_slurm_options=tuple(options.items()), **fields)
        )

    def build(
        self, request: GenerationRequest, prod_type: str, keep_pointing_features: bool
    ) -> GeneratedProduction:
        stages = {
            stage: tuple(self._entries[stage]) for stage in STAGE_ORDER if stage in self._entries
        }
        config = ProductionConfig(
            path=Path(),
            prod_id=request.prod_id,
            workflow_kind="lstchain",
            source_environment=request.source_environment,
            slurm_config=SlurmConfig(user_account=request.user_account),
            stages_to_run=tuple(stages),
            stages=stages,
            prod_type=prod_type,
        )
        return GeneratedProduction(config, tuple(self.missing), keep_pointing_features)
