"""AllSky productions (lstmcpipe's ``PathConfigAllSky*`` and ``PathConfigAllTrainTestDL1b``).

One generator composes three parts: training per declination (from DL0, from another
production's DL1 via dl1ab, or reusing its merged files), an optional split of the diffuse gammas
into train/test halves, and testing on the point-gamma nodes (DL2 and IRFs per declination and
node). Pointing nodes are discovered on disk; every node or source that is missing is reported.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from lstflow.config.generate.builder import (
    GeneratedProduction,
    GenerationError,
    GenerationRequest,
    StagesBuilder,
)
from lstflow.config.generate.discovery import Pointing, scan_nodes
from lstflow.config.generate.layout import (
    TEST_PARTICLE,
    TESTING,
    TRAINING,
    TRAINING_PARTICLES,
    AllSkyLayout,
    dl2_file_name,
)
from lstflow.config.model import (
    Dl1abEntry,
    Dl1ToDl2Entry,
    Dl2ToIrfsEntry,
    MergeDl1Entry,
    R0ToDl1Entry,
    TrainPipeEntry,
    TrainTestSplitEntry,
)

FROM_DL0 = "r0_to_dl1"
FROM_SOURCE_DL1 = "dl1ab"
FROM_SOURCE_MERGED = "merged"
DIFFUSE = "GammaDiffuse"
HEAVY_DEC = "dec_2276"  # the declination whose training and DL2 need more memory


@dataclass(frozen=True)
class AllSkyPlan:
    """Which parts a kind has; ``None`` means the part is absent.

    ``split_diffuse``: the diffuse-gamma training nodes are split into train/test halves;
    ``diffuse_testing``: those test halves are merged per node, to DL2 and full-enclosure IRFs
    (with the split in the same production, or from an earlier one of the same prod_id).
    """

    training: str | None
    testing: str | None
    split_diffuse: bool = False
    diffuse_testing: bool = False
    irfs: bool = True


def _train_resources(dec: str) -> dict[str, str]:
    mem = "160G" if dec == HEAVY_DEC else "100G"
    return {"partition": "xxl", "mem": mem, "cpus-per-task": "16", "time": "03-00:00:00"}


def _dl2_resources(dec: str) -> dict[str, str]:
    return {"mem": "80GB" if dec == HEAVY_DEC else "60GB"}


TRAINING_MERGE_RESOURCES = {"partition": "long", "time": "06:00:00"}
IRF_RESOURCES = {"mem": "6GB"}


class _AllSkyGenerator:
    def __init__(self, plan: AllSkyPlan, request: GenerationRequest) -> None:
        self.plan = plan
        self.request = request
        self.layout = AllSkyLayout(request.data_root, request.prod_id)
        self.scan = AllSkyLayout(str(request.scan_root), request.prod_id)
        source_id = request.source_prod_id or ""
        self.source = AllSkyLayout(request.data_root, source_id)
        self.source_scan = AllSkyLayout(str(request.scan_root), source_id)
        self.stages = StagesBuilder()

    def _exists(self, scan_path: str, what: str) -> bool:
        """Whether a source path exists; reports it when not."""
        if Path(scan_path).exists():
            return True
        self.stages.missing.append(f"{what} {scan_path} does not exist: skipped")
        return False

    def run(self, prod_type: str) -> GeneratedProduction:
        decs = [dec for dec in self.request.dec_list if self._training(dec)]
        if self.plan.training is not None and not decs:
            raise GenerationError(
                "no declination has training data: " + "; ".join(self.stages.missing)
            )
        if self.plan.testing is not None:
            self._testing(decs if self.plan.training is not None else list(self.request.dec_list))
        if self.plan.diffuse_testing and not self.plan.split_diffuse:
            for dec in self.request.dec_list:
                diffuse = scan_nodes(
                    Path(self.scan.dl0_training(DIFFUSE, dec)), self.stages.missing
                )
                for node in sorted(diffuse.values()):
                    self._diffuse_testing(dec, node)
        return self.stages.build(self.request, prod_type, keep_pointing_features=True)

    def _training(self, dec: str) -> bool:
        """Add the training of ``dec``; False when it cannot be trained (reported)."""
        kind = self.plan.training
        if kind is None:
            return True
        if kind == FROM_SOURCE_MERGED:
            gamma, proton = (self.source.training_merged(p, dec) for p in TRAINING_PARTICLES)
            scans = (self.source_scan.training_merged(p, dec) for p in TRAINING_PARTICLES)
            if not all([self._exists(path, "training merge") for path in scans]):
                self.stages.missing.append(f"{dec}: dropped, its training merges are missing")
                return False
        else:
            nodes = self._training_nodes(dec)
            if kind == FROM_SOURCE_DL1:
                nodes = {
                    particle: [
                        node
                        for node in particle_nodes
                        if self._exists(
                            self.source_scan.data("DL1", TRAINING, particle, dec, node),
                            "source DL1",
                        )
                    ]
                    for particle, particle_nodes in nodes.items()
                }
            empty = [particle for particle, particle_nodes in nodes.items() if not particle_nodes]
            if empty:
                self.stages.missing.append(f"{dec}: dropped, no {' or '.join(empty)} nodes")
                return False
            for particle, particle_nodes in nodes.items():
                self._training_particle(dec, particle, particle_nodes)
            gamma, proton = (self.layout.training_merged(p, dec) for p in TRAINING_PARTICLES)
        self.stages.add(
            TrainPipeEntry,
            gamma=gamma,
            proton=proton,
            output=self.layout.models(dec),
            extra_slurm_options=_train_resources(dec),
        )
        return True

    def _training_nodes(self, dec: str) -> dict[str, list[str]]:
        """Nodes of each training particle, keeping only pointings both particles have."""
        found: dict[str, dict[Pointing, str]] = {
            particle: scan_nodes(Path(self.scan.dl0_training(particle, dec)), self.stages.missing)
            for particle in TRAINING_PARTICLES
        }
        common = set.intersection(*(set(nodes) for nodes in found.values()))
        for particle, nodes in found.items():
            for pointing in sorted(set(nodes) - common):
                self.stages.missing.append(
                    f"{dec}: {particle} node {nodes[pointing]} has no counterpart in the other "
                    "training particle: skipped"
                )
        return {
            particle: sorted(nodes[pointing] for pointing in common)
            for particle, nodes in found.items()
        }

    def _training_particle(self, dec: str, particle: str, nodes: list[str]) -> None:
        split = self.plan.split_diffuse and particle == DIFFUSE
        for node in nodes:
            dl1 = self.layout.data("DL1", TRAINING, particle, dec, node)
            self._dl1(
                self.plan.training,
                dl1,
                dl0=self.layout.dl0_training(particle, dec, node),
                source=self.source.data("DL1", TRAINING, particle, dec, node),
            )
            if split:
                test = self.layout.data("DL1", TESTING, DIFFUSE, dec, node)
                self.stages.add(
                    TrainTestSplitEntry, input=dl1, train=f"{dl1}/train", test=f"{test}/test"
                )
                if self.plan.diffuse_testing:
                    self._diffuse_testing(dec, node)
        pattern = "*/*/*.h5" if split else "*/*.h5"
        self.stages.add(
            MergeDl1Entry,
            input=self.layout.data("DL1", TRAINING, particle, dec),
            output=self.layout.training_merged(particle, dec),
            options=f"--pattern {pattern} --no-image",
            extra_slurm_options=TRAINING_MERGE_RESOURCES,
        )

    def _dl1(self, mode: str | None, dl1: str, *, dl0: str, source: str) -> None:
        """Add the DL1 production of one node: from DL0, or dl1ab from the source's DL1."""
        if mode == FROM_DL0:
            self.stages.add(R0ToDl1Entry, input=dl0, output=dl1)
        else:
            self.stages.add(Dl1abEntry, input=source, output=dl1)

    def _diffuse_testing(self, dec: str, node: str) -> None:
        """The test half of a split diffuse node: merged, to DL2, to full-enclosure IRFs."""
        merged = self.layout.diffuse_test_merged(dec, node)
        self.stages.add(
            MergeDl1Entry,
            input=self.layout.data("DL1", TESTING, DIFFUSE, dec, node),
            output=merged,
            options="--pattern */*.h5 --no-image",
        )
        self._dl2_and_irf(merged, DIFFUSE, dec, node, point_like=False)

    def _testing(self, decs: list[str]) -> None:
        nodes = scan_nodes(Path(self.scan.dl0_testing()), self.stages.missing)
        for node in sorted(nodes.values()):
            if self.plan.testing == FROM_SOURCE_MERGED:
                merged = self.source.test_merged(node)
                if not self._exists(self.source_scan.test_merged(node), "test merge"):
                    continue
            else:
                dl1 = self.layout.data("DL1", TESTING, TEST_PARTICLE, node)
                source_scan = self.source_scan.data("DL1", TESTING, TEST_PARTICLE, node)
                if self.plan.testing == FROM_SOURCE_DL1 and not self._exists(
                    source_scan, "source DL1"
                ):
                    continue
                self._dl1(
                    self.plan.testing,
                    dl1,
                    dl0=self.layout.dl0_testing(node),
                    source=self.source.data("DL1", TESTING, TEST_PARTICLE, node),
                )
                merged = self.layout.test_merged(node)
                self.stages.add(MergeDl1Entry, input=dl1, output=merged, options="--no-image")
            for dec in decs:
                self._dl2_and_irf(merged, TEST_PARTICLE, dec, node, point_like=True)

    def _dl2_and_irf(
        self, merged: str, particle: str, dec: str, node: str, *, point_like: bool
    ) -> None:
        dl2 = self.layout.data("DL2", TESTING, particle, dec, node)
        self.stages.add(
            Dl1ToDl2Entry,
            input=merged,
            output=dl2,
            path_model=self.layout.models(dec),
            extra_slurm_options=_dl2_resources(dec),
        )
        if not self.plan.irfs:
            return
        irf = f"irf_{self.request.prod_id}_{particle}_{dec}_{node}.fits.gz"
        self.stages.add(
            Dl2ToIrfsEntry,
            gamma_file=posixpath.join(dl2, dl2_file_name(posixpath.basename(merged))),
            output=posixpath.join(self.layout.data("IRF", TESTING, particle, dec, node), irf),
            options="--point-like" if point_like else None,
            extra_slurm_options=IRF_RESOURCES,
        )


def generate_allsky(
    plan: AllSkyPlan, request: GenerationRequest, prod_type: str
) -> GeneratedProduction:
    return _AllSkyGenerator(plan, request).run(prod_type)
