"""``lstflow plan CONFIG``: every stage, array and command line a production would run, and its
entries grouped by lineage (``--lineage``: the lineage alone, each entry with what it waits for).

Nothing is submitted. Input directories are listed on this machine; on a machine that does not
see the cluster's filesystem, file-batch stages report their missing directories instead. The
lineage comes from the config's paths alone, so it is shown wherever the plan runs.
``--json`` prints the same plan machine-readably, with where each sbatch option's value came
from (stage default, slurm_config, legacy slurm_options, extra_slurm_options), and the lineage.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from lstflow.config import ConfigError, load_production
from lstflow.stages.base import PlanContext, StagePlan
from lstflow.stages.file_batches import InputDirectoryError
from lstflow.stages.lineage import ProductionLineage, build_lineage
from lstflow.stages.local_files import LocalFileLister
from lstflow.stages.registry import plan_stage, stages_to_run
from lstflow.workitems import WorkItem, array_groups


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan", help="print the stages, job arrays and command lines of a production"
    )
    parser.add_argument("config", type=Path, help="production config YAML")
    parser.add_argument(
        "--log-root", default="<log_root>", help="production log root on the cluster"
    )
    parser.add_argument(
        "--max-array-size", type=int, default=1001, help="the cluster's MaxArraySize (1001)"
    )
    parser.add_argument(
        "--lineage",
        action="store_true",
        help="print only the lineage groups, each entry with the entries it waits for",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the plan as JSON, with the source of every resource value",
    )
    parser.set_defaults(handler=run)


def print_stage(plan: StagePlan, max_array_size: int) -> None:
    groups = array_groups(plan.items, max_array_size)
    arrays = [[plan.items[number] for number in group] for group in groups]
    print(f"== {plan.stage}: {len(plan.items)} elements in {len(arrays)} job array(s)")
    print(f"   logs: {plan.log_dir}")
    for number, array in enumerate(arrays):
        options = " ".join(f"--{k}={v}" for k, v in array[0].resources.sbatch_options())
        print(f"   array {number}: {len(array)} elements  {options}")
        for index, item in enumerate(array):
            print(f"     [{index}] {shlex.join(item.argv)}")
    for path, content in plan.files:
        print(f"   writes {path} ({len(content)} bytes)")


def array_resources(array: list[WorkItem]) -> list[dict[str, Any]]:
    """The array's sbatch options, each with the sources its elements took the value from."""
    rows = []
    for option, value in array[0].resources.sbatch_options():
        sources = {dict(item.resource_sources).get(option, "unknown") for item in array}
        rows.append({"option": option, "value": value, "sources": sorted(sources)})
    return rows


def stage_document(plan: StagePlan, max_array_size: int) -> dict[str, Any]:
    arrays = [[plan.items[n] for n in group] for group in array_groups(plan.items, max_array_size)]
    return {
        "stage": plan.stage,
        "log_dir": plan.log_dir,
        "elements": len(plan.items),
        "arrays": [
            {
                "elements": len(array),
                "resources": array_resources(array),
                "items": [
                    {
                        "key": item.key,
                        "argv": list(item.argv),
                        "outputs": list(item.outputs),
                        "description": item.description,
                    }
                    for item in array
                ],
            }
            for array in arrays
        ],
        "files": [{"path": path, "bytes": len(content)} for path, content in plan.files],
    }


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


def run(args: argparse.Namespace) -> int:
    try:
        production = load_production(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr if args.json else sys.stdout)
        return 1
    context = PlanContext(
        prod_id=production.prod_id,
        lstchain_config=str(production.lstchain_config or "<lstchain config>"),
        log_root=args.log_root,
        slurm_config=production.slurm_config,
        files=LocalFileLister(),
    )
    lineage = build_lineage(production)
    if args.lineage and not args.json:
        print(f"production {production.prod_id} ({production.path})")
        print_lineage(lineage, entries=True)
        return 0
    document: dict[str, Any] = {
        "prod_id": production.prod_id,
        "config": str(production.path),
        "lstchain_config": context.lstchain_config,
        "max_array_size": args.max_array_size,
        "stages": [],
        "lineage": lineage_document(lineage),
    }
    if not args.json:
        print(f"production {production.prod_id} ({production.path})")
    status = 0
    for stage in stages_to_run(production):
        try:
            plan = plan_stage(production, stage, context)
        except InputDirectoryError as error:
            status = 1
            document["stages"].append({"stage": stage, "error": str(error)})
            if not args.json:
                print(f"== {stage}: cannot be planned here:\n{error}")
            continue
        if args.json:
            document["stages"].append(stage_document(plan, args.max_array_size))
        else:
            print_stage(plan, args.max_array_size)
    if args.json:
        json.dump(document, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_lineage(lineage, entries=False)
    return status
