"""The command lines ``lstflow plan`` gives for the three real sample productions, compared with
the ones lstmcpipe 0.11.5 builds for the same entries (formats from reference/lstmcpipe.md §2).

The input directories live on La Palma's /fefs, so the file listing is a fake: this tests the
command formatting only.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

import pytest

from lstflow.config import ProductionConfig, load_production
from lstflow.stages.base import PlanContext
from lstflow.stages.registry import plan_stage, stages_to_run
from lstflow_dev.testdata import production_samples_dir

pytestmark = pytest.mark.unit

CONF = "/cluster/logs/prod/config/lstchain_config.json"


class TwoFilesPerDirectory:
    def list_directories(
        self, directories: Sequence[str], patterns: Sequence[str]
    ) -> dict[str, list[str] | None]:
        suffix = patterns[0].lstrip("*")
        return {d: [f"{d.rstrip('/')}/run{i}{suffix}" for i in (1, 2)] for d in directories}


def sample(name: str) -> ProductionConfig:
    (path,) = (production_samples_dir() / name).glob("*.yaml")
    return load_production(path)


def context(production: ProductionConfig) -> PlanContext:
    return PlanContext(
        prod_id=production.prod_id,
        lstchain_config=CONF,
        log_root="/cluster/logs",
        slurm_config=production.slurm_config,
        files=TwoFilesPerDirectory(),
    )


def commands(production: ProductionConfig, stage: str) -> list[str]:
    plan = plan_stage(production, stage, context(production))
    return [shlex.join(item.argv) for item in plan.items]


def manifest_commands(production: ProductionConfig, stage: str) -> list[str]:
    plan = plan_stage(production, stage, context(production))
    ((_, content),) = plan.files
    elements = json.loads(content)["elements"]
    return [shlex.join(task["argv"]) for element in elements for task in element]


PROD5 = "20240122_v0.10.4_prod5_trans_80"
ALLSKY = "20240430_v0.10.4_src9_dec3476_tuned"
DL1AB = "20240716_v0.10.7_src10_dec3476_tuned"


@pytest.mark.parametrize("name", [PROD5, ALLSKY])
def test_r0_to_dl1_runs_lstmcpipes_command_per_file(name: str) -> None:
    production = sample(name)
    entry = production.stages["r0_to_dl1"][0]
    expected = [
        f"lstchain_mc_r0_to_dl1 --input-file={entry.input.rstrip('/')}/run{i}.simtel.gz "
        f"--output-dir={entry.output} --config={CONF}"
        for i in (1, 2)
    ]
    assert manifest_commands(production, "r0_to_dl1")[:2] == expected


def test_dl1ab_runs_lstmcpipes_command_per_file() -> None:
    production = sample(DL1AB)
    entry = production.stages["dl1ab"][0]
    first = f"{entry.input}/run1.h5"
    assert manifest_commands(production, "dl1ab")[0] == (
        f"lstchain_dl1ab --no-image --input-file={first} "
        f"--output-file={entry.output}/run1.h5 --config={CONF}"
    )


@pytest.mark.parametrize("name", [PROD5, ALLSKY, DL1AB])
def test_merge_dl1_passes_options_through(name: str) -> None:
    production = sample(name)
    entry = production.stages["merge_dl1"][0]
    options = " ".join(shlex.quote(o) for o in shlex.split(entry.options or ""))
    assert commands(production, "merge_dl1")[0] == (
        f"lstchain_merge_hdf5_files -d {entry.input} -o {entry.output} {options}"
    )


def test_allsky_merge_pattern_is_one_quoted_argument() -> None:
    production = sample(ALLSKY)
    plan = plan_stage(production, "merge_dl1", context(production))
    assert plan.items[0].argv[-3:] == ("--pattern", "*/*.h5", "--no-image")


@pytest.mark.parametrize("name", [PROD5, ALLSKY, DL1AB])
def test_train_pipe_and_its_feature_importance_plot(name: str) -> None:
    production = sample(name)
    entry = production.stages["train_pipe"][0]
    assert commands(production, "train_pipe")[0] == (
        f"lstchain_mc_trainpipe --fg {entry.gamma} --fp {entry.proton} -o {entry.output} -c {CONF}"
    )
    assert commands(production, "plot_rf_feat")[0] == (
        f"python -m lstflow.jobs.plot_rf_importance {entry.output} -cf {CONF}"
    )


@pytest.mark.parametrize("name", [PROD5, ALLSKY, DL1AB])
def test_dl1_to_dl2_has_path_model_and_one_f_per_file(name: str) -> None:
    production = sample(name)
    entry = production.stages["dl1_to_dl2"][0]
    assert commands(production, "dl1_to_dl2")[0] == (
        f"lstchain_dl1_to_dl2 -f {entry.input} -p {entry.path_model} -o {entry.output} -c {CONF}"
    )


def test_dl2_to_irfs_options_first_and_null_particles_dropped() -> None:
    production = sample(PROD5)
    for entry, command in zip(
        production.stages["dl2_to_irfs"], commands(production, "dl2_to_irfs"), strict=True
    ):
        expected = " ".join(
            part
            for part in (
                f"lstchain_create_irf_files {entry.options or ''}".strip(),
                f"-g {entry.gamma_file} -o {entry.output}",
                f"-p {entry.proton_file}" if entry.proton_file else "",
                f"-e {entry.electron_file}" if entry.electron_file else "",
                f"--config={CONF}",
            )
            if part
        )
        assert command == expected


def test_dl2_to_sensitivity_is_lstflows_own_pyirf_job() -> None:
    production = sample(PROD5)
    entry = production.stages["dl2_to_sensitivity"][0]
    assert commands(production, "dl2_to_sensitivity")[0] == (
        f"python -m lstflow.jobs.sensitivity -g {entry.gamma_file} -p {entry.proton_file} "
        f"-e {entry.electron_file} -o {entry.output}"
    )


def test_train_test_split_uses_the_entry_ratio() -> None:
    production = sample(PROD5)
    entry = production.stages["train_test_split"][0]
    assert commands(production, "train_test_split")[0] == (
        f"python -m lstflow.jobs.train_test_split -i {entry.input} --otrain {entry.train} "
        f"--otest {entry.test} -r 0.5"
    )


@pytest.mark.parametrize("name", [PROD5, ALLSKY, DL1AB])
def test_account_from_slurm_config_and_extra_options_last(name: str) -> None:
    production = sample(name)
    for stage in stages_to_run(production):
        for item in plan_stage(production, stage, context(production)).items:
            options = dict(item.resources.sbatch_options())
            assert options["account"] == "dpps"
            assert options["partition"]
