"""Each work item's sbatch options and where each value came from: stage default,
slurm_config, legacy slurm_options, extra_slurm_options (in that precedence).

The RF feature-importance plot gets its own resources: never the training entry's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from support.library_cases import LEGACY_2022, write_shared_prod_id_library

from lstflow.config import ConfigError, load_production
from lstflow.config.model import ProductionConfig
from lstflow.stages.base import PlanContext
from lstflow.stages.registry import plan_stage

pytestmark = pytest.mark.unit


def production(tmp_path: Path, plot_setting: str = "") -> ProductionConfig:
    """The full config of the test library: a training entry with xxl/160G options."""
    full = write_shared_prod_id_library(tmp_path, "/data", account="aswg").full
    text = full.read_text()
    full.write_text(text.replace("  user_account: aswg\n", f"  user_account: aswg\n{plot_setting}"))
    return load_production(full)


def legacy(tmp_path: Path) -> ProductionConfig:
    """A 2022 config: short sbatch options in the deprecated per-entry slurm_options."""
    (tmp_path / "lstchain_config.json").write_text("{}")
    (tmp_path / "lstmcpipe_config.yaml").write_text(LEGACY_2022)
    return load_production(tmp_path / "lstmcpipe_config.yaml")


def planned(
    config: ProductionConfig, stage: str
) -> Sequence[tuple[dict[str, str], dict[str, str]]]:
    """Per work item: its sbatch options and the source of each."""
    context = PlanContext(
        prod_id=config.prod_id,
        lstchain_config="/c.json",
        log_root="/logs",
        slurm_config=config.slurm_config,
    )
    return [
        (dict(item.resources.sbatch_options()), dict(item.resource_sources))
        for item in plan_stage(config, stage, context).items
    ]


def test_plot_rf_feat_has_its_own_defaults_not_the_training_options(tmp_path: Path) -> None:
    config = production(tmp_path)
    ((train, _),) = planned(config, "train_pipe")
    assert train == {
        "partition": "xxl",
        "mem": "160G",
        "time": "03-00:00:00",
        "cpus-per-task": "16",
        "account": "aswg",
        "nice": "10",
    }
    ((plot, sources),) = planned(config, "plot_rf_feat")
    assert plot == {"partition": "short", "mem": "16GB", "account": "aswg"}
    assert sources == {
        "partition": "stage default",
        "mem": "stage default",
        "account": "slurm_config",
    }


def test_plot_rf_feat_setting_in_slurm_config_overrides_its_defaults(tmp_path: Path) -> None:
    setting = "  plot_rf_feat: {mem: 32GB, time: '01:00:00'}\n"
    config = production(tmp_path, setting)
    ((plot, sources),) = planned(config, "plot_rf_feat")
    assert plot == {"partition": "short", "mem": "32GB", "time": "01:00:00", "account": "aswg"}
    assert sources == {
        "partition": "stage default",
        "mem": "slurm_config",
        "time": "slurm_config",
        "account": "slurm_config",
    }
    # the training still has its own options
    ((train, _),) = planned(config, "train_pipe")
    assert train["partition"] == "xxl" and train["mem"] == "160G"


def test_sources_in_precedence_order(tmp_path: Path) -> None:
    config = production(tmp_path)
    ((_, sources),) = planned(config, "train_pipe")
    assert sources == {
        "partition": "extra_slurm_options",
        "mem": "extra_slurm_options",
        "time": "extra_slurm_options",
        "cpus-per-task": "extra_slurm_options",
        "account": "slurm_config",
        "nice": "extra_slurm_options",
    }
    merge, merge_sources = planned(config, "merge_dl1")[0]
    assert merge == {"partition": "long", "account": "aswg"}
    assert merge_sources == {"partition": "slurm_options (legacy)", "account": "slurm_config"}
    ((dl2, dl2_sources),) = planned(config, "dl1_to_dl2")
    assert dl2["mem"] == "60GB" and dl2_sources["mem"] == "extra_slurm_options"


def test_legacy_short_options_and_the_memory_lstmcpipe_ignored(tmp_path: Path) -> None:
    config = legacy(tmp_path)
    ((train, train_sources),) = planned(config, "train_pipe")
    assert train == {"partition": "xxl", "mem": "100G", "cpus-per-task": "16", "account": "dpps"}
    assert set(train_sources.values()) == {"slurm_options (legacy)", "slurm_config"}
    assert [options["partition"] for options, _ in planned(config, "merge_dl1")] == ["long"] * 2
    # lstmcpipe 0.11.5 ignores the legacy mem of dl1_to_dl2: lstflow honours it
    ((dl2, dl2_sources),) = planned(config, "dl1_to_dl2")
    assert dl2 == {"partition": "short", "mem": "50GB", "account": "dpps"}
    assert dl2_sources == {
        "partition": "stage default",
        "mem": "slurm_options (legacy)",
        "account": "slurm_config",
    }
    ((plot, _),) = planned(config, "plot_rf_feat")
    assert plot == {"partition": "short", "mem": "16GB", "account": "dpps"}


def test_plot_rf_feat_setting_is_checked_like_extra_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        production(tmp_path, "  plot_rf_feat: {--mem: 32GB, job-name: x}\n")
    assert [issue.format("f") for issue in raised.value.issues] == [
        "f: slurm_config.plot_rf_feat: '--mem' is not a Slurm long option name (write "
        "'mem: ...' without the leading dashes)",
        "f: slurm_config.plot_rf_feat.job-name: 'job-name' is set by lstflow itself (it names "
        "the jobs and their logs) (delete it)",
    ]
