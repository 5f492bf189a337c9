"""An entry's ``options`` are checked against the lstchain tool that receives them, with option
lists captured from lstchain (checked here against lstchain's own parsers)."""

from __future__ import annotations

import importlib

import pytest
from config_helpers import MINIMAL, WriteConfig

from lstflow.cli import main
from lstflow.config.tool_options import CREATE_IRF_FILES, MERGE_HDF5_FILES

pytestmark = pytest.mark.unit


def test_merge_options_are_lstchain_merge_hdf5_files_own() -> None:
    parser = importlib.import_module("lstchain.scripts.lstchain_merge_hdf5_files").parser
    actions = {
        option: action
        for option, action in parser._option_string_actions.items()
        if option not in ("-h", "--help")
    }
    takes_value = {o for o, a in actions.items() if a.nargs not in (0, "*")}
    assert MERGE_HDF5_FILES.with_value == takes_value
    assert MERGE_HDF5_FILES.flags == {o for o, a in actions.items() if a.nargs == 0}
    assert MERGE_HDF5_FILES.many_values == {o for o, a in actions.items() if a.nargs == "*"}


def test_irf_options_are_lstchain_create_irf_files_own() -> None:
    tool = importlib.import_module("lstchain.tools.lstchain_create_irf_files").IRFFITSWriter
    names = [alias for key in tool.aliases for alias in (key if isinstance(key, tuple) else (key,))]
    assert CREATE_IRF_FILES.with_value == {("-" if len(n) == 1 else "--") + n for n in names}
    assert CREATE_IRF_FILES.flags == {f"--{flag}" for flag in tool.flags}


@pytest.mark.parametrize(
    "options",
    ["--no-image", "--pattern */*.h5 --no-image", "--keys-to-copy a b --no-progress", "-r 3"],
)
def test_real_merge_options_pass(options: str) -> None:
    assert MERGE_HDF5_FILES.problems(options) == []


def test_irf_options_take_aliases_flags_and_traits() -> None:
    good = "--point-like --gh-efficiency=0.7 --overwrite --DL3Cuts.min_event_p_en_bin=50"
    assert CREATE_IRF_FILES.problems(good) == []


def test_a_shell_command_in_options_is_an_error() -> None:
    assert MERGE_HDF5_FILES.problems("--no-image ; rm -rf ~") == [
        "';' is not an option of lstchain_merge_hdf5_files (options are passed to it as "
        "arguments, never to a shell: ';', '&&' or a second command do not work)",
        "'rm' is not an option of lstchain_merge_hdf5_files (options are passed to it as "
        "arguments, never to a shell: ';', '&&' or a second command do not work)",
        "unknown option -rf of lstchain_merge_hdf5_files (its options: --input-dir, "
        "--keys-to-copy, --no-image, --no-progress, --output-file, --pattern, --run-number, "
        "--skip-checks)",
        "'~' is not an option of lstchain_merge_hdf5_files (options are passed to it as "
        "arguments, never to a shell: ';', '&&' or a second command do not work)",
    ]


def test_misspelt_options_get_a_suggestion_and_values_are_required() -> None:
    assert MERGE_HDF5_FILES.problems("--no-imag --pattern") == [
        "unknown option --no-imag of lstchain_merge_hdf5_files (did you mean '--no-image'?)",
        "--pattern of lstchain_merge_hdf5_files needs a value",
    ]
    assert CREATE_IRF_FILES.problems("--point-like=yes") == [
        "--point-like of lstchain_create_irf_files takes no value"
    ]


def test_validate_reports_bad_options_at_their_entry(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MINIMAL.format(prod_id="opts").replace("--no-image", "'--no-image ; rm -rf ~'")
    assert "rm -rf" in text
    config = write_config(text)
    assert main(["validate", "--no-lstchain", str(config)]) == 1
    out = capsys.readouterr().out
    assert "stages.merge_dl1[0].options: ';' is not an option of lstchain_merge_hdf5_files" in out
    assert "(write only options of lstchain_merge_hdf5_files, e.g. '--no-image')" in out
