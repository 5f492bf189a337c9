"""Every rejection of a production config, with its exact message."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import MINIMAL, WriteConfig

from lstflow.config import ConfigError, load_production

pytestmark = pytest.mark.unit


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_production(path)
    assert caught.value.path == path
    return str(caught.value).splitlines()


def minimal(**replacements: str) -> str:
    text = MINIMAL.format(prod_id="prod_a")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    return text


def test_unknown_entry_key_suggests_the_close_one(write_config: WriteConfig) -> None:
    path = write_config(minimal().replace("    output: /data/DL1/gamma_merged.h5", "    ouput: x"))
    assert problems(path) == [
        f"{path}: stages.merge_dl1[0]: unknown key 'ouput' (did you mean 'output'?)",
        f"{path}: stages.merge_dl1[0]: missing key 'output' (add 'output: <output file or "
        "directory>')",
    ]


def test_unknown_top_level_key(write_config: WriteConfig) -> None:
    path = write_config(minimal() + "stage_to_run: [r0_to_dl1]\n")
    assert problems(path) == [f"{path}: unknown key 'stage_to_run' (did you mean 'stages_to_run'?)"]


def test_legacy_format_says_how_to_convert(write_config: WriteConfig) -> None:
    path = write_config(
        "workflow_kind: lstchain\nprod_id: old\nstages_to_be_run: [r0_to_dl1]\n"
        "base_path: /fefs/aswg/data/mc\nzenith: zenith_20deg\n"
    )
    assert problems(path) == [
        f"{path}: pre-2022 lstmcpipe config format (keys stages_to_be_run, base_path, zenith) "
        "is not supported (convert it: regenerate with 'lstflow generate-config', or list the "
        "stages in 'stages_to_run' and give each stage's paths under 'stages: {stage: "
        "[{input: ..., output: ...}]}')"
    ]


def test_stage_given_as_mapping(write_config: WriteConfig) -> None:
    text = (
        minimal()
        .replace(
            "  merge_dl1:\n  - input: /data/DL1/gamma\n",
            "  merge_dl1:\n    input: /data/DL1/gamma\n",
        )
        .replace(
            "    output: /data/DL1/gamma_merged.h5\n    options",
            "    output: /data/m.h5\n    options",
        )
    )
    path = write_config(text)
    assert problems(path) == [
        f"{path}: stages.merge_dl1: expected a list of entries, got a mapping (start each entry "
        "with '- ' (a stage is a list, even with one entry))"
    ]


def test_unknown_stage_in_stages_to_run(write_config: WriteConfig) -> None:
    path = write_config(minimal(**{"[r0_to_dl1, merge_dl1]": "[r0_to_dl1, merge_dl2]"}))
    assert problems(path) == [
        f"{path}: stages_to_run[1]: unknown stage 'merge_dl2' (did you mean 'merge_dl1'?)"
    ]


def test_r0_to_dl1_with_dl1ab(write_config: WriteConfig) -> None:
    text = minimal(**{"[r0_to_dl1, merge_dl1]": "[r0_to_dl1, dl1ab]"}).replace(
        "  merge_dl1:", "  dl1ab:\n  - {input: /a, output: /b}\n  merge_dl1:"
    )
    path = write_config(text)
    assert problems(path) == [
        f"{path}: stages_to_run: 'r0_to_dl1' and 'dl1ab' cannot run in the same production "
        "(run dl1ab in a second production that reads this one's DL1)"
    ]


STAGE_CASES = {
    "train_pipe_missing_proton": (
        "train_pipe",
        "  - input: {gamma: /g.h5}\n    output: /models\n",
        "stages.train_pipe[0].input: missing key 'proton' (add 'proton: <merged DL1 proton "
        "training file>')",
    ),
    "train_pipe_extra_key": (
        "train_pipe",
        "  - input: {gamma: /g.h5, proton: /p.h5, electron: /e.h5}\n    output: /models\n",
        "stages.train_pipe[0].input: unknown key 'electron' (allowed keys: gamma, proton)",
    ),
    "irfs_missing_gamma": (
        "dl2_to_irfs",
        "  - input: {proton_file: /p.h5}\n    output: /irf.fits.gz\n",
        "stages.dl2_to_irfs[0].input: missing key 'gamma_file' (add 'gamma_file: <DL2 gamma "
        "file>')",
    ),
    "irfs_extra_key": (
        "dl2_to_irfs",
        "  - input: {gamma_file: /g.h5, protonfile: /p.h5}\n    output: /irf.fits.gz\n",
        "stages.dl2_to_irfs[0].input: unknown key 'protonfile' (did you mean 'proton_file'?)",
    ),
    "sensitivity_missing_electron": (
        "dl2_to_sensitivity",
        "  - input: {gamma_file: /g.h5, proton_file: /p.h5}\n    output: /s.fits.gz\n",
        "stages.dl2_to_sensitivity[0].input: missing key 'electron_file' (add 'electron_file: "
        "<DL2 electron file>')",
    ),
    "split_missing_test": (
        "train_test_split",
        "  - input: /dl1\n    output: {train: /dl1/train}\n",
        "stages.train_test_split[0].output: missing key 'test' (add 'test: <directory for the "
        "test half>')",
    ),
    "split_extra_key": (
        "train_test_split",
        "  - input: /dl1\n    output: {train: /t, test: /s, ration: 0.3}\n",
        "stages.train_test_split[0].output: unknown key 'ration' (did you mean 'ratio'?)",
    ),
    "split_bad_ratio": (
        "train_test_split",
        "  - input: /dl1\n    output: {train: /t, test: /s, ratio: 1.5}\n",
        "stages.train_test_split[0].output.ratio: expected the test fraction, a number between "
        "0 and 1, got the number 1.5 (write e.g. 0.5)",
    ),
    "split_test_size_disagrees": (
        "train_test_split",
        "  - input: /dl1\n    output: {train: /t, test: /s, ratio: 0.5}\n"
        "    options: {test_size: 0.3}\n",
        "stages.train_test_split[0].options.test_size: 0.3 disagrees with output.ratio 0.5 "
        "(keep only output.ratio, the test fraction)",
    ),
    "dl2_without_path_model": (
        "dl1_to_dl2",
        "  - input: /dl1.h5\n    output: /dl2\n",
        "stages.dl1_to_dl2[0]: missing key 'path_model' (add 'path_model: <directory of the "
        "trained models>')",
    ),
    "slurm_flag_without_value": (
        "dl1_to_dl2",
        "  - input: /dl1.h5\n    output: /dl2\n    path_model: /m\n"
        "    extra_slurm_options: {exclusive: null}\n",
        "stages.dl1_to_dl2[0].extra_slurm_options.exclusive: expected a value, got nothing "
        "(null) (Slurm flags without a value cannot be given here; remove it)",
    ),
    "slurm_option_with_dashes": (
        "dl1_to_dl2",
        "  - input: /dl1.h5\n    output: /dl2\n    path_model: /m\n"
        "    extra_slurm_options: {--mem: 6GB}\n",
        "stages.dl1_to_dl2[0].extra_slurm_options: '--mem' is not a Slurm long option name "
        "(write 'mem: ...' without the leading dashes)",
    ),
    "legacy_slurm_options_flag": (
        "dl1_to_dl2",
        "  - input: /dl1.h5\n    output: /dl2\n    path_model: /m\n"
        "    slurm_options: -p short -O\n",
        "stages.dl1_to_dl2[0].slurm_options: '-O' (--overcommit) is a flag without a value, "
        "which cannot be passed as a Slurm option (remove it from slurm_options)",
    ),
    "legacy_slurm_options_unknown_short_option": (
        "dl1_to_dl2",
        "  - input: /dl1.h5\n    output: /dl2\n    path_model: /m\n    slurm_options: -Z 3\n",
        "stages.dl1_to_dl2[0].slurm_options: '-Z' is not an sbatch short option "
        "(move it to 'extra_slurm_options: {name: value}')",
    ),
    "legacy_slurm_options_bare_word": (
        "dl1_to_dl2",
        "  - input: /dl1.h5\n    output: /dl2\n    path_model: /m\n    slurm_options: long\n",
        "stages.dl1_to_dl2[0].slurm_options: cannot translate 'long' into a Slurm option "
        "(move it to 'extra_slurm_options: {name: value}')",
    ),
    "extra_slurm_options_owned_by_lstflow": (
        "dl1_to_dl2",
        "  - input: /dl1.h5\n    output: /dl2\n    path_model: /m\n"
        "    extra_slurm_options: {job-name: mine}\n",
        "stages.dl1_to_dl2[0].extra_slurm_options.job-name: 'job-name' is set by lstflow itself "
        "(it names the jobs and their logs) (delete it)",
    ),
    "extra_slurm_options_array_throttle": (
        "dl1_to_dl2",
        "  - input: /dl1.h5\n    output: /dl2\n    path_model: /m\n"
        "    extra_slurm_options: {array: 0-9%5}\n",
        "stages.dl1_to_dl2[0].extra_slurm_options.array: 'array' is set by lstflow, which builds "
        "the job arrays (delete it; the number of elements running at once is [lstflow] "
        "array_throttle)",
    ),
}


@pytest.mark.parametrize("case", sorted(STAGE_CASES))
def test_stage_entry_rejections(write_config: WriteConfig, case: str) -> None:
    stage, entries, expected = STAGE_CASES[case]
    text = minimal(**{"[r0_to_dl1, merge_dl1]": f"[r0_to_dl1, {stage}]"}).replace(
        "  merge_dl1:\n", f"  {stage}:\n{entries}  merge_dl1:\n"
    )
    path = write_config(text)
    assert f"{path}: {expected}" in problems(path)


def test_parts_of_one_prod_id_must_share_the_environment(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    from lstflow.config import load_library

    first = write_config(minimal(), subdir="a")
    second = write_config(minimal(**{"lstchain-v0.12.3": "lstchain-v0.10.5"}), subdir="b")
    library = load_library(tmp_path)
    assert library.productions == {}
    assert str(library.errors[first]) == (
        f"{first}: source_environment: {{source_file: /opt/conda/etc/profile.d/conda.sh, "
        "conda_env: lstchain-v0.12.3} differs from {source_file: /opt/conda/etc/profile.d/"
        f"conda.sh, conda_env: lstchain-v0.10.5}} in {second}, which shares the prod_id "
        "'prod_a' (configs sharing a prod_id are parts of one production and must use the same "
        "source_environment: make them agree, or give one its own prod_id)"
    )
    assert f"in {first}, which shares the prod_id 'prod_a'" in str(library.errors[second])


def test_every_problem_of_a_file_is_reported(write_config: WriteConfig) -> None:
    text = minimal(**{"workflow_kind: lstchain": "workflow_kind: lstchian"}).replace(
        "  user_account: aswg", "  user_acount: aswg"
    )
    path = write_config(text)
    assert problems(path) == [
        f"{path}: slurm_config: unknown key 'user_acount' (did you mean 'user_account'?)",
        f"{path}: workflow_kind: unknown workflow kind 'lstchian' (did you mean 'lstchain'?)",
    ]


def test_missing_required_keys(write_config: WriteConfig) -> None:
    path = write_config("workflow_kind: lstchain\nprod_id: x\n")
    assert problems(path) == [
        f"{path}: missing key 'source_environment' (add 'source_environment: {{source_file: "
        "<conda.sh or bin/activate>, conda_env: <env>}')",
        f"{path}: missing key 'stages_to_run' (add 'stages_to_run: [<stage>, ...]')",
        f"{path}: missing key 'stages' (add 'stages: {{<stage>: [{{input: ..., output: ...}}]}}')",
    ]


def test_run_stage_absent_from_stages(write_config: WriteConfig) -> None:
    path = write_config(minimal(**{"[r0_to_dl1, merge_dl1]": "[r0_to_dl1, merge_dl1, train_pipe]"}))
    assert problems(path) == [
        f"{path}: stages: missing stage 'train_pipe', which stages_to_run lists (add its "
        "entries under 'stages.train_pipe' or remove it from stages_to_run)"
    ]


def test_noise_tune_keys_come_in_pairs(write_config: WriteConfig) -> None:
    path = write_config(minimal() + "dl1_noise_tune_data_run: /data/run.h5\n")
    assert problems(path) == [
        f"{path}: dl1_noise_tune_mc_run: missing while 'dl1_noise_tune_data_run' is set "
        "(set both keys or neither)"
    ]


def test_unset_environment_variable_names_key(write_config: WriteConfig) -> None:
    text = minimal().replace("/data/DL0/gamma", "${LSTFLOW_TEST_SURELY_UNSET}/DL0/gamma")
    path = write_config(text)
    assert problems(path) == [
        f"{path}: stages.r0_to_dl1[0].input: environment variable 'LSTFLOW_TEST_SURELY_UNSET' "
        "is not set (export LSTFLOW_TEST_SURELY_UNSET=... before running lstflow, or write the "
        "path out)"
    ]


def test_lstchain_json_missing_or_ambiguous(write_config: WriteConfig) -> None:
    path = write_config(minimal())
    (path.parent / "lstchain_config.json").unlink()
    assert problems(path) == [
        f"{path}: lstchain_config: no lstchain config JSON in {path.parent} (add the "
        "production's lstchain config (e.g. from 'lstchain_dump_config --mc') as "
        "lstchain_config_<name>.json beside the YAML)"
    ]
    (path.parent / "lstchain_a.json").write_text("{}")
    (path.parent / "lstchain_b.json").write_text("{}")
    assert problems(path) == [
        f"{path}: lstchain_config: several candidate lstchain configs in {path.parent}: "
        "lstchain_a.json, lstchain_b.json (keep exactly one '*lstchain*.json' beside the YAML)"
    ]


def test_lstchain_json_syntax_error(write_config: WriteConfig) -> None:
    path = write_config(minimal())
    json_file = path.parent / "lstchain_config.json"
    json_file.write_text('{"tailcut": {,}}')
    assert problems(path) == [
        f"{path}: lstchain_config: {json_file}: invalid JSON: Expecting property name enclosed "
        "in double quotes: line 1 column 14 (char 13) (fix the JSON syntax)"
    ]


def test_a_secret_environment_variable_is_not_expanded(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "s3cret")
    monkeypatch.delenv("AIRFLOW__LSTFLOW__CONFIG_VARIABLES", raising=False)
    text = minimal().replace("/data/DL0/gamma", "/data/${AIRFLOW__API_AUTH__JWT_SECRET}/gamma")
    path = write_config(text)
    assert problems(path) == [
        f"{path}: stages.r0_to_dl1[0].input: environment variable "
        "'AIRFLOW__API_AUTH__JWT_SECRET' may not be used in a config (use a LSTFLOW_* "
        "variable, or define AIRFLOW__API_AUTH__JWT_SECRET in [lstflow] config_variables of "
        "airflow.cfg ('lstflow init --config-variable AIRFLOW__API_AUTH__JWT_SECRET=VALUE') "
        "if no secret)"
    ]


def test_a_variable_named_in_the_option_is_expanded(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITE_DATA", "/fefs/site")
    monkeypatch.setenv("AIRFLOW__LSTFLOW__CONFIG_VARIABLES", "OTHER = /x\nSITE_DATA = /y")
    path = write_config(minimal().replace("/data/DL0/gamma", "${SITE_DATA}/DL0/gamma"))
    production = load_production(path)
    assert production.stages["r0_to_dl1"][0].input == "/fefs/site/DL0/gamma"


@pytest.mark.parametrize("name", ["README.md", "lstchain_config.json", "lstmcpipe_config.yaml"])
def test_a_file_symlinked_out_of_the_production_is_refused(
    write_config: WriteConfig, tmp_path: Path, name: str
) -> None:
    path = write_config(minimal())
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret-hash:19000:0:99999:7:::\n")
    link = path.parent / name
    if name == "lstmcpipe_config.yaml":
        real = tmp_path / "elsewhere.yaml"
        real.write_text(path.read_text())
        link.unlink()
        link.symlink_to(real)
    else:
        link.unlink(missing_ok=True)
        link.symlink_to(secret)
    lines = problems(path)
    assert any(f"{link} is a symlink leading outside {path.parent}" in line for line in lines)
    assert not any("secret-hash" in line for line in lines)


def test_a_huge_readme_is_refused(write_config: WriteConfig) -> None:
    path = write_config(minimal())
    (path.parent / "README.md").write_text("# big\n" + "x" * (300 * 1024))
    (line,) = problems(path)
    assert "README.md has 307,206 bytes, more than the 262,144 allowed" in line


def test_a_prod_id_longer_than_a_dag_id_allows_is_refused(write_config: WriteConfig) -> None:
    """Issue #15: two 261-character prod_ids passed validate, then shared one (cut) DAG id."""
    long_id = "p" * 261
    path = write_config(minimal().replace("prod_id: prod_a", f"prod_id: {long_id}"))
    assert problems(path) == [
        f"{path}: prod_id: has 261 characters, more than the 247 a DAG id allows (shorten it: "
        "the DAG id is 'mc_' + the prod_id, at most 250 characters)"
    ]


def test_a_production_over_the_entry_limit_is_refused(write_config: WriteConfig) -> None:
    """Issue #15: a 100,000-entry production stored a 36 MB spec and a 32 MB plan in Airflow's
    metadata DB (MySQL's MEDIUMTEXT holds 16 MB)."""
    entry = "  - input: /data/DL1/gamma_{n}\n    output: /data/DL1/gamma_merged_{n}.h5\n"
    head = minimal().split("stages:")[0]
    text = (
        head.replace("stages_to_run: [r0_to_dl1, merge_dl1]", "stages_to_run: [merge_dl1]")
        + "stages:\n  merge_dl1:\n"
        + "".join(entry.format(n=n) for n in range(20_001))
    )
    path = write_config(text)
    assert problems(path) == [
        f"{path}: stages: 20,001 entries, more than the 20,000 a production may have (split it "
        "into several productions (the largest real one has about 3,400))"
    ]
