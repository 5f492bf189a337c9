"""Write a ``ProductionConfig`` back as lstmcpipe-format YAML (what ``generate-config`` emits).

Times such as ``06:00:00`` are written quoted, so both lstflow and YAML 1.1 readers keep them as
strings; the output loads back to an equal model.
"""

from __future__ import annotations

from typing import Any

import yaml

from lstflow.config.model import ProductionConfig, StageEntry


def entry_to_dict(entry: StageEntry) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, key in entry.YAML_KEYS:
        value = getattr(entry, name)
        if value is None:
            continue
        *parents, leaf = key.split(".")
        target = data
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    options = {**dict(entry.legacy_slurm_options), **dict(entry.extra_slurm_options)}
    if options:
        data["extra_slurm_options"] = options
    return data


def production_to_dict(config: ProductionConfig) -> dict[str, Any]:
    environment: dict[str, str] = {"source_file": config.source_environment.source_file}
    if config.source_environment.conda_env:
        environment["conda_env"] = config.source_environment.conda_env
    data: dict[str, Any] = {
        "workflow_kind": config.workflow_kind,
        "prod_id": config.prod_id,
        "source_environment": environment,
    }
    slurm_config: dict[str, Any] = {}
    if config.slurm_config.user_account:
        slurm_config["user_account"] = config.slurm_config.user_account
    if config.slurm_config.plot_rf_feat:
        slurm_config["plot_rf_feat"] = dict(config.slurm_config.plot_rf_feat)
    if slurm_config:
        data["slurm_config"] = slurm_config
    optional = {
        "prod_type": config.prod_type,
        "lstmcpipe_version": config.lstmcpipe_version,
        "dl1_noise_tune_data_run": config.dl1_noise_tune_data_run,
        "dl1_noise_tune_mc_run": config.dl1_noise_tune_mc_run,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    data["stages_to_run"] = list(config.stages_to_run)
    data["stages"] = {
        stage: [entry_to_dict(entry) for entry in entries]
        for stage, entries in config.stages.items()
    }
    return data


def dump_production(config: ProductionConfig, header: str = "") -> str:
    """The YAML text of ``config``; ``header`` lines become a leading comment."""
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    body = yaml.safe_dump(
        production_to_dict(config), sort_keys=False, default_flow_style=False, width=4096
    )
    return comment + body
