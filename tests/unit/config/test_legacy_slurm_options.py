"""The deprecated per-entry ``slurm_options`` string: every sbatch short option with a long form
is translated, in each form lstmcpipe's users wrote it; what cannot be translated is an error."""

from __future__ import annotations

import pytest
from config_helpers import MINIMAL, WriteConfig

from lstflow.config import load_production
from lstflow.config.sbatch_options import SHORT_OPTIONS, translate

pytestmark = pytest.mark.unit

# The short options the issue lists, with their long names (``man sbatch``).
REQUIRED = {
    "-p": "partition",
    "-c": "cpus-per-task",
    "-t": "time",
    "-N": "nodes",
    "-n": "ntasks",
    "-A": "account",
    "-J": "job-name",
    "-q": "qos",
    "-w": "nodelist",
    "-x": "exclude",
    "-C": "constraint",
    "-G": "gpus",
    "-D": "chdir",
    "-o": "output",
    "-e": "error",
}


@pytest.mark.parametrize("short", sorted(REQUIRED))
def test_each_short_option_in_separate_and_attached_form(short: str) -> None:
    long_name = REQUIRED[short]
    assert SHORT_OPTIONS[short[1]] == long_name
    for text in (f"{short} value1", f"{short}value1", f"--{long_name} value1"):
        assert translate(text).options == ((long_name, "value1"),), text
        assert translate(text).problems == ()


def test_the_library_strings() -> None:
    assert translate("-p long").options == (("partition", "long"),)
    assert translate("-p xxl --mem=100G --cpus-per-task=16").options == (
        ("partition", "xxl"),
        ("mem", "100G"),
        ("cpus-per-task", "16"),
    )
    assert translate("--mem=50GB").options == (("mem", "50GB"),)
    assert translate("-pxxl -c16 -t 03-00:00:00 --nice 10").options == (
        ("partition", "xxl"),
        ("cpus-per-task", "16"),
        ("time", "03-00:00:00"),
        ("nice", "10"),
    )


def test_a_later_repeat_wins() -> None:
    assert translate("-p short --partition=long").options == (("partition", "long"),)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-p", "cannot read the value of '-p' in '-p'"),
        ("-p=long", "cannot read the value of '-p' in '-p=long'"),
        ("--exclusive", "'--exclusive' has no value: a flag cannot be passed as a Slurm option"),
        ("-H", "'-H' (--hold) is a flag without a value, which cannot be passed as a Slurm option"),
        ("-Z 1", "'-Z' is not an sbatch short option"),
        ("'-p long", "cannot split ''-p long': No closing quotation"),
    ],
)
def test_untranslatable(text: str, problem: str) -> None:
    ((message, fix),) = translate(text).problems
    assert message == problem
    assert fix


def entry_config(slurm_options: str) -> str:
    return MINIMAL.format(prod_id="legacy").replace(
        "    options: --no-image\n",
        f"    options: --no-image\n    slurm_options: {slurm_options}\n",
    )


def test_short_options_load_with_a_warning_saying_lstflow_applies_them(
    write_config: WriteConfig,
) -> None:
    config = load_production(write_config(entry_config("-p xxl --mem=100G --cpus-per-task=16")))
    merge = config.entries("merge_dl1")[0]
    assert merge.legacy_slurm_options == (
        ("partition", "xxl"),
        ("mem", "100G"),
        ("cpus-per-task", "16"),
    )
    assert [warning.message for warning in config.warnings] == [
        "deprecated 'slurm_options': lstmcpipe 0.11.5 ignores it, lstflow applies it "
        "(--partition=xxl --mem=100G --cpus-per-task=16)"
    ]


def test_options_lstflow_sets_itself_are_ignored_with_a_warning(write_config: WriteConfig) -> None:
    config = load_production(write_config(entry_config("-J myjob -o /tmp/x.out -p long")))
    assert config.entries("merge_dl1")[0].legacy_slurm_options == (("partition", "long"),)
    assert [warning.format("f") for warning in config.warnings] == [
        "f: stages.merge_dl1[0]: slurm_options: ignored: 'job-name' is set by lstflow itself (it "
        "names the jobs and their logs) (delete it)",
        "f: stages.merge_dl1[0]: slurm_options: ignored: 'output' is set by lstflow itself (it "
        "names the jobs and their logs) (delete it)",
        "f: stages.merge_dl1[0]: deprecated 'slurm_options': lstmcpipe 0.11.5 ignores it, "
        "lstflow applies it (--partition=long) (move it to 'extra_slurm_options: {name: value}')",
    ]
