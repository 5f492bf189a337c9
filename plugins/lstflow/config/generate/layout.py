"""Directory conventions of the LST MC productions, with the data root as a parameter.

``root`` plays the role of La Palma's ``/fefs/aswg/data``: MC data lives under ``{root}/mc`` and
models under ``{root}/models``. It may be written as ``${LSTFLOW_DATA_ROOT}`` for a portable
config. Paths are strings (``posixpath``): they name cluster files.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

PROD5_TRANS80 = "20200629_prod5_trans_80"
PROD5_POINTING = "south_pointing"
# AllSky DL0 (LSTProd2) naming
ALLSKY_DL0 = "LSTProd2"
ALLSKY_DL0_VERSION = "output_v1.4"
TRAINING_PARTICLES = ("GammaDiffuse", "Protons")
TEST_PARTICLE = "Gamma"
TRAINING = "TrainingDataset"
TESTING = "TestingDataset"


def dl2_file_name(dl1_file_name: str) -> str:
    """The name ``lstchain_dl1_to_dl2`` gives its output (first 'dl1' becomes 'dl2')."""
    return dl1_file_name.replace("dl1", "dl2", 1)


@dataclass(frozen=True)
class Prod5Layout:
    """prod5 trans-80, one zenith, south pointing; gammas come in two offsets.

    ``offset`` is part of every gamma path, including the train/test split directories
    (lstmcpipe's generator dropped it there and mixed both offsets in one directory).
    """

    root: str
    prod_id: str
    zenith: str = "zenith_20deg"

    def _mc(self, level: str, particle: str, offset: str | None, with_prod: bool) -> str:
        parts = [self.root, "mc", level, PROD5_TRANS80, particle, self.zenith, PROD5_POINTING]
        if with_prod:
            parts.append(self.prod_id)
        if offset:
            parts.append(offset)
        return posixpath.join(*parts)

    def dl0(self, particle: str, offset: str | None = None) -> str:
        return self._mc("DL0", particle, offset, with_prod=False)

    def dl1(self, particle: str, offset: str | None = None) -> str:
        return self._mc("DL1", particle, offset, with_prod=True)

    def dl2(self, particle: str, offset: str | None = None) -> str:
        return self._mc("DL2", particle, offset, with_prod=True)

    def merged_dl1(self, particle: str, half: str, offset: str | None = None) -> str:
        name = f"dl1_{particle}_{self.prod_id}_{half}.h5"
        return posixpath.join(self.dl1(particle, offset), name)

    def dl2_file(self, particle: str, offset: str | None = None) -> str:
        name = dl2_file_name(f"dl1_{particle}_{self.prod_id}_test.h5")
        return posixpath.join(self.dl2(particle, offset), name)

    def models(self) -> str:
        return posixpath.join(
            self.root, "models", PROD5_TRANS80, self.zenith, PROD5_POINTING, self.prod_id
        )

    def irf_dir(self, label: str) -> str:
        parts = (self.root, "mc", "IRF", PROD5_TRANS80, self.zenith, PROD5_POINTING, self.prod_id)
        return posixpath.join(*parts, label)


@dataclass(frozen=True)
class AllSkyLayout:
    """AllSky: ``{root}/mc/{DL1|DL2|IRF}/AllSky/{prod}/{dataset}/{particle}/{dec}/{node}``
    (lstmcpipe's layout since #483, Sep 2024); DL0 is the shared LSTProd2 tree."""

    root: str
    prod_id: str

    def dl0_training(self, particle: str, dec: str, node: str | None = None) -> str:
        base = posixpath.join(self.root, "mc", "DL0", ALLSKY_DL0, TRAINING, particle, dec)
        return self._sim_telarray(base, node)

    def dl0_testing(self, node: str | None = None) -> str:
        base = posixpath.join(self.root, "mc", "DL0", ALLSKY_DL0, "TestDataset")
        return self._sim_telarray(base, node)

    @staticmethod
    def _sim_telarray(base: str, node: str | None) -> str:
        if node is None:
            return posixpath.join(base, "sim_telarray")
        return posixpath.join(base, "sim_telarray", node, ALLSKY_DL0_VERSION)

    def data(self, level: str, dataset: str, particle: str, *subdirs: str) -> str:
        return posixpath.join(
            self.root, "mc", level, "AllSky", self.prod_id, dataset, particle, *subdirs
        )

    def models(self, dec: str) -> str:
        return posixpath.join(self.root, "models", "AllSky", self.prod_id, dec)

    def training_merged(self, particle: str, dec: str) -> str:
        name = f"dl1_{self.prod_id}_train_{dec}_{particle}_merged.h5"
        return posixpath.join(self.data("DL1", TRAINING, particle, dec), name)

    def test_merged(self, node: str) -> str:
        name = f"dl1_{self.prod_id}_{TEST_PARTICLE}_test_{node}_merged.h5"
        return posixpath.join(self.data("DL1", TESTING, TEST_PARTICLE), name)

    def diffuse_test_merged(self, dec: str, node: str) -> str:
        name = f"dl1_{self.prod_id}_GammaDiffuse_test_{dec}_{node}_merged.h5"
        return posixpath.join(self.data("DL1", TESTING, "GammaDiffuse", dec), name)
