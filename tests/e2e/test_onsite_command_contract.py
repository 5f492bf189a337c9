"""Command contract: every lstchain command line the night planner generates parses with the
REAL lstchain 0.12.3 argument parsers, and every option lands on the intended argument.

argparse scripts expose a module-level ``parser``: it parses strictly (``parse_args``, so an
unknown option fails even where the script itself uses ``parse_known_args``). ctapipe Tools parse
with traitlets, which only *warns* about unknown options: the test therefore also requires that
the resulting config holds no unknown section and that each option set the expected trait.
Nothing is executed: no real LST R0 data exist offline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
from collections.abc import Iterator
from importlib import metadata
from types import ModuleType
from typing import Any

import pytest
from ctapipe.core import Tool

from lstflow.onsite.plan import plan_night
from lstflow.onsite.settings import OnsiteSettings, build_version, load_settings
from lstflow.onsite.tasks import JobMode, NightTasks
from lstflow.workitems import WorkItem
from lstflow_dev import synthetic_onsite
from lstflow_dev.local_onsite_files import local_night_files

pytestmark = pytest.mark.e2e

NIGHTS = (dt.date(2020, 1, 17), dt.date(2020, 1, 18), dt.date(2020, 1, 19))
EXPECTED_TOOLS = {
    "lstchain_r0_to_r0g",
    "onsite_create_drs4_pedestal_file",
    "onsite_create_cat_B_calibration_file",
    "lstchain_cherenkov_transparency",
    "onsite_create_calibration_file",
    "lstchain_data_r0_to_dl1",
    "lstchain_find_tailcuts",
    "lstchain_dl1ab",
    "lstchain_check_dl1",
    "lstchain_merge_hdf5_files",
    "lstchain_merge_muon_files",
    "lstchain_dl1_to_dl2",
    "lstchain_longterm_dl1_check",
}


def lstchain_argv(item: WorkItem) -> tuple[str, ...]:
    return item.argv[item.argv.index("--") + 1 :]


def night_items(
    settings: OnsiteSettings, night: dt.date, overrides: dict[str, Any]
) -> Iterator[WorkItem]:
    files = local_night_files()
    tasks = NightTasks(
        settings,
        plan_night(settings, night, build_version(settings, overrides), files),
        files,
        JobMode(simulate=False),
    )
    yield from (item for item in tasks.gain_selection() if lstchain_argv(item)[0] != "cp")
    yield from tasks.drs4_baseline()
    yield from tasks.charge_calibration()
    for run in tasks.plan.data_runs:
        tailcut = tasks.tailcut(run.run_id)
        yield from tasks.r0_to_dl1(run.run_id)
        yield tasks.tailcut_finder(run.run_id)
        yield from tasks.catB_calibration(run.run_id)
        yield from tasks.dl1ab(run.run_id, tailcut)
        yield from tasks.datacheck_subruns(run.run_id, tailcut)
        yield tasks.merge_dl1(run.run_id, tailcut)
        yield tasks.merge_muons(run.run_id)
        yield tasks.dl1_to_dl2(run.run_id, tailcut, tasks.rf_model(run.run_id, tailcut))
        yield tasks.datacheck_run(run.run_id, tailcut)
    yield tasks.longterm_datacheck()
    yield tasks.cherenkov_transparency()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, ...]]:
    root = tmp_path_factory.mktemp("contract")
    synthetic_onsite.build_synthetic_tree(root / "onsite", prod_ids=("v0.12.3", "v0.13.0"))
    for ids in ("pedestal_ids_Run01807.0001.h5",):  # exercise the optional --pedestal-ids-path
        path = root / "onsite/auxiliary/PedestalFinder/20200117" / ids
        path.parent.mkdir(parents=True)
        path.touch()
    settings = load_settings(synthetic_onsite.write_settings(root / "cfg"), base=root / "onsite")
    versions = (
        {},
        {
            "prod_id": "v0.13.0",
            "store_image_dl1ab": True,
            "use_ff_heuristic_gain_selection": False,
            "apply_catB_calibration": False,
        },
    )
    return [
        lstchain_argv(item)
        for night in NIGHTS
        for overrides in versions
        for item in night_items(settings, night, overrides)
    ]


def entry_module(tool: str) -> ModuleType:
    (entry,) = [e for e in metadata.entry_points(group="console_scripts") if e.name == tool]
    assert metadata.distribution("lstchain").version == "0.12.3"
    return importlib.import_module(entry.module)


def option_pairs(args: tuple[str, ...], takes_value: set[str]) -> Iterator[tuple[str, str | None]]:
    """(option, value) pairs: ``--a=b``, ``-r 12`` (when the option takes a value), ``--flag``."""
    pending = list(args)
    while pending:
        arg = pending.pop(0)
        assert arg.startswith("-"), f"unexpected positional argument {arg!r}"
        if "=" in arg:
            name, value = arg.split("=", 1)
            yield name, value
        elif arg in takes_value:
            yield arg, pending.pop(0)
        else:
            yield arg, None


def check_argparse(parser: argparse.ArgumentParser, argv: tuple[str, ...]) -> None:
    try:
        namespace = parser.parse_args(list(argv[1:]))
    except SystemExit as exc:
        pytest.fail(f"{argv[0]} rejected {argv}: exit {exc.code}")
    actions = {opt: action for action in parser._actions for opt in action.option_strings}
    takes_value = {opt for opt, action in actions.items() if action.nargs != 0}
    for option, value in option_pairs(argv[1:], takes_value):
        assert option in actions, f"{argv[0]}: {option} is not an exact option (abbreviation?)"
        parsed = getattr(namespace, actions[option].dest)
        if value is None:  # a store_true / store_false flag sets its constant
            flag = actions[option]
            assert parsed is flag.const, f"{argv[0]}: flag {option} did not set {flag.dest}"
        else:
            assert str(parsed) == value, f"{argv[0]}: {option}={value} parsed as {parsed!r}"


def tool_class(module: ModuleType) -> type[Tool]:
    (cls,) = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, Tool) and v.__module__ == module.__name__
    ]
    return cls


def check_tool(cls: type[Tool], argv: tuple[str, ...]) -> None:
    tool = cls()
    try:
        tool.parse_command_line(list(argv[1:]))
    except SystemExit as exc:
        raise AssertionError(f"{argv[0]} rejected {argv}: exit {exc.code}") from exc
    known = {c.__name__ for c in tool._classes_with_config_traits()} | {
        c.__name__ for c in cls.__mro__
    }
    assert set(tool.config) <= known, f"{argv[0]}: unknown options {set(tool.config) - known}"
    assert tool.extra_args == [], f"{argv[0]}: stray arguments {tool.extra_args}"
    aliases = {
        name: target
        for names, target in tool.aliases.items()
        for name in ((names,) if isinstance(names, str) else names)
    }
    for option, value in option_pairs(argv[1:], set()):
        name = option.lstrip("-")
        matches = {target for alias, target in aliases.items() if alias.startswith(name)}
        assert len(matches) == 1, f"{argv[0]}: {option} matches {matches}"
        target = matches.pop()
        target = target[0] if isinstance(target, tuple) else target
        trait_value = getattr(tool, target.split(".")[-1])
        shown = (
            [str(v) for v in trait_value] if isinstance(trait_value, list) else [str(trait_value)]
        )
        assert shown == [value], f"{argv[0]}: {option}={value} set {target} to {trait_value!r}"


def test_every_generated_command_parses_with_lstchain(generated: list[tuple[str, ...]]) -> None:
    assert {argv[0] for argv in generated} == EXPECTED_TOOLS
    assert len(generated) > 80
    for argv in generated:
        module = entry_module(argv[0])
        parser = getattr(module, "parser", None)
        if isinstance(parser, argparse.ArgumentParser):
            check_argparse(parser, argv)
        else:
            check_tool(tool_class(module), argv)


def test_lstosa_literal_no_image_true_is_rejected_by_lstchain() -> None:
    """Why the planner writes ``--no-image``: lstosa's ``--no-image=True`` does not parse."""
    parser = entry_module("lstchain_dl1ab").parser
    with pytest.raises(SystemExit):
        parser.parse_args(["-f", "a.h5", "-o", "b.h5", "--no-image=True"])


@pytest.mark.parametrize(
    ("option", "message"), [("--bogus=3", "unknown options"), ("--models-path=/m", "rejected")]
)
def test_unknown_tool_option_is_caught(option: str, message: str) -> None:
    """The traitlets check is not vacuous: traitlets only warns about ``--bogus=3``."""
    cls = tool_class(entry_module("lstchain_dl1_to_dl2"))
    with pytest.raises(AssertionError, match=message):
        check_tool(cls, ("lstchain_dl1_to_dl2", "--input-file=/a.h5", option))
