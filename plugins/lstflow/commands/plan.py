"""``lstflow plan CONFIG``: every stage, array and command line a production would run, and its
entries grouped by lineage (``--lineage``: the lineage alone, each entry with what it waits for).

Nothing is submitted. A large production prints a summary per stage (job arrays, elements,
resources); ``--full`` prints every element with its analysis tool command lines (a file batch's
lstchain commands, not the job-side batch wrapper), ``--stage`` keeps some stages only.

Input directories are listed on this machine; on a machine that does not see the cluster's
filesystem (a laptop, a pull-request check) ``--no-inputs`` plans without them: the elements of
stages that batch the files of a directory are then unknown, never an error. ``--json`` prints
the same plan machine-readably, with where each sbatch option's value came from (stage default,
slurm_config, legacy slurm_options, extra_slurm_options), and the lineage. The lineage comes
from the config's paths alone, so it is shown wherever the plan runs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstflow.config import ConfigError, load_production
from lstflow.stages.base import PlanContext, StagePlan
from lstflow.stages.file_batches import InputDirectoryError
from lstflow.stages.lineage import ProductionLineage, build_lineage
from lstflow.stages.local_files import LocalFileLister
from lstflow.stages.registry import IMPLICIT_STAGES, plan_stage, stages_to_run
from lstflow.workitems import WorkItem, array_groups

#: Up to this many elements in the chosen stages, the plan prints in full by default.
FULL_VIEW_LIMIT = 40
NO_INPUTS_HINT = "(where the data is not visible, --no-inputs plans without listing it)"
#: A summary shows this many lines of a stage's planning errors.
SHOWN_ERRORS = 5


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="print the stages, job arrays and command lines of a production",
        description=(
            "Print what a production would run, submitting nothing: per stage its job arrays, "
            f"elements and resources (a summary above {FULL_VIEW_LIMIT} elements; --full for "
            "every command line)."
        ),
    )
    parser.add_argument("config", type=Path, help="production config YAML")
    parser.add_argument(
        "--log-root", default="<log_root>", help="production log root on the cluster"
    )
    parser.add_argument(
        "--max-array-size", type=int, default=1001, help="the cluster's MaxArraySize (1001)"
    )
    parser.add_argument(
        "--stage",
        action="append",
        metavar="STAGE",
        help="plan only this stage (repeat for several)",
    )
    view = parser.add_mutually_exclusive_group()
    view.add_argument(
        "--full", action="store_true", help="every element and its command lines, however many"
    )
    view.add_argument(
        "--lineage",
        action="store_true",
        help="print only the lineage groups, each entry with the entries it waits for",
    )
    view.add_argument(
        "--json",
        action="store_true",
        help="print the plan as JSON, with the source of every resource value",
    )
    parser.add_argument(
        "--no-inputs",
        action="store_true",
        help=(
            "do not list input directories (where the data is not visible): the elements of "
            "r0_to_dl1/dl1ab are reported as unknown"
        ),
    )
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class PlannedStage:
    """A stage's plan, or why it could not be planned here."""

    stage: str
    plan: StagePlan | None = None
    error: str = ""


def arrays_of(plan: StagePlan, max_array_size: int) -> list[list[WorkItem]]:
    return [[plan.items[n] for n in group] for group in array_groups(plan.items, max_array_size)]


def options_text(item: WorkItem) -> str:
    return " ".join(f"--{k}={v}" for k, v in item.resources.sbatch_options())


def print_stage(plan: StagePlan, max_array_size: int) -> None:
    arrays = arrays_of(plan, max_array_size)
    if plan.unlisted_inputs:
        print(f"== {plan.stage}: elements unknown, input directories not listed (--no-inputs):")
        for directory in plan.unlisted_inputs:
            print(f"     {directory}")
        return
    print(f"== {plan.stage}: {len(plan.items)} elements in {len(arrays)} job array(s)")
    print(f"   logs: {plan.log_dir}")
    for number, array in enumerate(arrays):
        print(f"   array {number}: {len(array)} elements  {options_text(array[0])}")
        for index, item in enumerate(array):
            commands = plan.commands_of(item)
            if commands == (item.argv,):
                print(f"     [{index}] {shlex.join(item.argv)}")
                continue
            print(f"     [{index}] {item.description}, through {shlex.join(item.argv[:3])}:")
            for command in commands:
                print(f"           {shlex.join(command)}")
    for path, content in plan.files:
        print(f"   writes {path} ({len(content)} bytes)")


def lineage_groups_of(lineage: ProductionLineage, stage: str) -> int:
    """How many lineage groups have entries of ``stage`` (plot_rf_feat: train_pipe's)."""
    owner = IMPLICIT_STAGES.get(stage, stage)
    return sum(1 for group in lineage.groups if any(r.stage == owner for r in group.entries))


def summary_row(
    planned: PlannedStage, max_array_size: int, lineage: ProductionLineage
) -> tuple[str, ...]:
    groups = str(lineage_groups_of(lineage, planned.stage))
    if planned.plan is None:
        return (planned.stage, "-", "-", groups, "cannot be planned here (see below)")
    plan = planned.plan
    if plan.unlisted_inputs:
        unlisted = f"inputs not listed: {len(plan.unlisted_inputs)} dirs"
        return (plan.stage, "?", "?", groups, unlisted)
    arrays = arrays_of(plan, max_array_size)
    resources = sorted({options_text(array[0]) for array in arrays})
    return (plan.stage, str(len(arrays)), str(len(plan.items)), groups, " | ".join(resources))


def print_summary(
    stages: list[PlannedStage], max_array_size: int, lineage: ProductionLineage
) -> None:
    rows: list[tuple[str, ...]] = [
        ("stage", "arrays", "elements", "lineage groups", "resources (per distinct array)")
    ]
    rows += [summary_row(planned, max_array_size, lineage) for planned in stages]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        cells = [row[column].ljust(widths[column]) for column in range(4)]
        print("  ".join([*cells, row[4]]).rstrip())
    for planned in stages:
        if planned.error:
            lines = planned.error.splitlines()
            more = [f"... and {len(lines) - SHOWN_ERRORS} more (--full lists them)"]
            shown = lines if len(lines) <= SHOWN_ERRORS else lines[:SHOWN_ERRORS] + more
            print(f"== {planned.stage}: cannot be planned here:", *shown, sep="\n")


def print_lineage(lineage: ProductionLineage, entries: bool) -> None:
    """Per lineage group, its entries per stage; with ``entries``, each entry's upstream."""
    external = sum(len(paths) for paths in lineage.external_inputs.values())
    print(
        f"== lineage: {len(lineage.groups)} group(s), {len(lineage.entries)} entries, "
        f"{external} input(s) from outside the production"
    )
    for group in lineage.groups:
        counts = ", ".join(f"{stage} {count}" for stage, count in group.counts().items())
        print(f"   {group.name}: {counts}")
        if not entries:
            continue
        for ref in group.entries:
            waits = ", ".join(str(parent) for parent in lineage.upstream[ref]) or "-"
            print(f"     {ref} <- {waits}")


def lineage_document(lineage: ProductionLineage) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": group.name,
                "models": list(group.models),
                "entries": [
                    {
                        "entry": str(ref),
                        "upstream": [str(parent) for parent in lineage.upstream[ref]],
                        "external_inputs": list(lineage.external_inputs.get(ref, ())),
                    }
                    for ref in group.entries
                ],
            }
            for group in lineage.groups
        ]
    }


def array_resources(array: list[WorkItem]) -> list[dict[str, Any]]:
    """The array's sbatch options, each with the sources its elements took the value from."""
    rows = []
    for option, value in array[0].resources.sbatch_options():
        sources = {dict(item.resource_sources).get(option, "unknown") for item in array}
        rows.append({"option": option, "value": value, "sources": sorted(sources)})
    return rows


def stage_document(plan: StagePlan, max_array_size: int) -> dict[str, Any]:
    return {
        "stage": plan.stage,
        "log_dir": plan.log_dir,
        "elements": None if plan.unlisted_inputs else len(plan.items),
        "unlisted_inputs": list(plan.unlisted_inputs),
        "arrays": [
            {
                "elements": len(array),
                "resources": array_resources(array),
                "items": [
                    {
                        "key": item.key,
                        "argv": list(item.argv),
                        "commands": [list(command) for command in plan.commands_of(item)],
                        "outputs": list(item.outputs),
                        "description": item.description,
                    }
                    for item in array
                ],
            }
            for array in arrays_of(plan, max_array_size)
        ],
        "files": [{"path": path, "bytes": len(content)} for path, content in plan.files],
    }


def run(args: argparse.Namespace) -> int:
    try:
        production = load_production(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr if args.json else sys.stdout)
        return 1
    all_stages = stages_to_run(production)
    unknown = [stage for stage in args.stage or () if stage not in all_stages]
    if unknown:
        print(
            f"{production.path}: no stage {', '.join(unknown)} in this production "
            f"(its stages: {', '.join(all_stages)})",
            file=sys.stderr,
        )
        return 2
    context = PlanContext(
        prod_id=production.prod_id,
        lstchain_config=str(production.lstchain_config or "<lstchain config>"),
        log_root=args.log_root,
        slurm_config=production.slurm_config,
        files=None if args.no_inputs else LocalFileLister(),
    )
    lineage = build_lineage(production)
    if args.lineage and not args.json:
        print(f"production {production.prod_id} ({production.path})")
        print_lineage(lineage, entries=True)
        return 0
    stages: list[PlannedStage] = []
    for stage in all_stages:
        if args.stage and stage not in args.stage:
            continue
        try:
            stages.append(PlannedStage(stage, plan=plan_stage(production, stage, context)))
        except InputDirectoryError as error:
            stages.append(PlannedStage(stage, error=str(error)))
    status = 1 if any(planned.error for planned in stages) else 0
    if args.json:
        document = {
            "prod_id": production.prod_id,
            "config": str(production.path),
            "lstchain_config": context.lstchain_config,
            "max_array_size": args.max_array_size,
            "inputs_listed": not args.no_inputs,
            "stages": [
                stage_document(planned.plan, args.max_array_size)
                if planned.plan
                else {"stage": planned.stage, "error": planned.error}
                for planned in stages
            ],
            "lineage": lineage_document(lineage),
        }
        json.dump(document, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return status
    print(f"production {production.prod_id} ({production.path})")
    elements = sum(len(planned.plan.items) for planned in stages if planned.plan)
    if not args.full and elements > FULL_VIEW_LIMIT:
        print_summary(stages, args.max_array_size, lineage)
        if not args.stage:
            print_lineage(lineage, entries=False)
        print("(summary: --full prints every command line, --stage STAGE one stage, --json all)")
        if status and not args.no_inputs:
            print(NO_INPUTS_HINT)
        return status
    for planned in stages:
        if planned.plan is not None:
            print_stage(planned.plan, args.max_array_size)
        else:
            print(f"== {planned.stage}: cannot be planned here:\n{planned.error}")
    if not args.stage:
        print_lineage(lineage, entries=False)
    if status and not args.no_inputs:
        print(NO_INPUTS_HINT)
    return status
