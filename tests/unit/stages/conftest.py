"""Fixtures of the stage tests: synthetic LSTProd2 DL0 trees and productions generated on them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from lstflow.config import ProductionConfig, SourceEnvironment
from lstflow.config.generate import GenerationRequest, generate_all


def touch_simtel(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "run1.simtel.gz").write_bytes(b"")


@dataclass(frozen=True)
class AllSkyTree:
    """A DL0 tree under ``root`` in LSTProd2's layout, one simtel file per node."""

    root: Path

    def add(
        self, decs: Sequence[str], train_nodes: Sequence[str], test_nodes: Sequence[str]
    ) -> None:
        dl0 = self.root / "mc" / "DL0" / "LSTProd2"
        for dec in decs:
            for particle in ("GammaDiffuse", "Protons"):
                sim = dl0 / "TrainingDataset" / particle / dec / "sim_telarray"
                for node in train_nodes:
                    touch_simtel(sim / node / "output_v1.4")
        for node in test_nodes:
            touch_simtel(dl0 / "TestDataset" / "sim_telarray" / node / "output_v1.4")

    def generate_all(
        self, kind: str, decs: Sequence[str], prod_id: str = "gen", nsb_levels: Sequence[str] = ()
    ) -> list[ProductionConfig]:
        request = GenerationRequest(
            prod_id=prod_id,
            data_root=str(self.root),
            scan_root=self.root,
            source_environment=SourceEnvironment("/opt/venv/bin/activate"),
            dec_list=tuple(decs),
            nsb_levels=tuple(nsb_levels),
        )
        return [generated.config for generated in generate_all(kind, request)]

    def generate(self, kind: str, decs: Sequence[str], prod_id: str = "gen") -> ProductionConfig:
        (production,) = self.generate_all(kind, decs, prod_id)
        return production


@pytest.fixture
def allsky_tree(tmp_path: Path) -> Callable[[str], AllSkyTree]:
    """``allsky_tree(name)``: an empty tree in ``tmp_path/name``."""
    return lambda name: AllSkyTree(tmp_path / name)
