"""``lstflow plan CONFIG``: every stage, array and command line a production would run, and its
entries grouped by lineage (``--lineage``: the lineage alone, each entry with what it waits for).

Nothing is submitted. Input directories are listed on this machine; on a machine that does not
see the cluster's filesystem, file-batch stages report their missing directories instead. The
lineage comes from the config's paths alone, so it is shown wherever the plan runs.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from lstflow.config import ConfigError, load_production
from lstflow.stages.base import PlanContext, StagePlan
from lstflow.stages.file_batches import InputDirectoryError
from lstflow.stages.lineage import ProductionLineage, build_lineage
from lstflow.stages.local_files import LocalFileLister
from lstflow.stages.registry import plan_stage, stages_to_run
from lstflow.workitems import array_groups


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


def run(args: argparse.Namespace) -> int:
    try:
        production = load_production(args.config)
    except ConfigError as error:
        print(error)
        return 1
    context = PlanContext(
        prod_id=production.prod_id,
        lstchain_config=str(production.lstchain_config or "<lstchain config>"),
        log_root=args.log_root,
        account=production.slurm_config.user_account,
        files=LocalFileLister(),
    )
    print(f"production {production.prod_id} ({production.path})")
    lineage = build_lineage(production)
    if args.lineage:
        print_lineage(lineage, entries=True)
        return 0
    status = 0
    for stage in stages_to_run(production):
        try:
            print_stage(plan_stage(production, stage, context), args.max_array_size)
        except InputDirectoryError as error:
            print(f"== {stage}: cannot be planned here:\n{error}")
            status = 1
    print_lineage(lineage, entries=False)
    return status
