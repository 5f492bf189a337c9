"""``lstflow generate-config KIND``: write a new production directory, like lstmcpipe did
(an NSB grid: one ``NSB-x.xx/`` directory per level)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from lstflow.config import ConfigError, SourceEnvironment, load_production
from lstflow.config.envvars import expand_string
from lstflow.config.generate import KINDS, GenerationError, GenerationRequest, generate_all
from lstflow.config.generate.writer import default_dump_config_command, write_productions
from lstflow.config.schema import PROD_ID_PATTERN


def _default_source_file() -> str:
    return str(Path(sys.prefix, "bin", "activate"))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kinds = "; ".join(f"{kind.name}: {kind.description}" for kind in KINDS.values())
    parser = subparsers.add_parser(
        "generate-config",
        help="generate a production config, its lstchain config and a README stub",
        description=f"Kinds: {kinds}.",
    )
    parser.add_argument("kind", metavar="KIND", help=f"one of {', '.join(KINDS)}")
    parser.add_argument(
        "--prod-id",
        "--prod_id",
        required=True,
        help="the production's name, e.g. 20250101_v0.12.3_my_source: letters, digits, '_', "
        "'.' and '-'; it names the DAG and the log directories",
    )
    parser.add_argument(
        "--data-root",
        "--data_root",
        required=True,
        help="the directory holding mc/ and models/ (La Palma: /fefs/aswg/data); may be "
        "written as '${LSTFLOW_DATA_ROOT}' to keep the config portable",
    )
    parser.add_argument(
        "-o",
        "--output-dir",
        "--output_dir",
        type=Path,
        required=True,
        help="where to write the production directory, e.g. include/production_configs",
    )
    parser.add_argument(
        "--dec-list",
        "--dec_list",
        nargs="+",
        default=[],
        metavar="DEC",
        help="declinations, e.g. dec_2276 dec_3476",
    )
    parser.add_argument(
        "--source-prod-id", "--source_prod_id", help="production reused by the DL1ab/DL1b kinds"
    )
    parser.add_argument("--zenith", default="zenith_20deg", help="prod5 only")
    parser.add_argument(
        "--nsb-levels",
        nargs="+",
        default=[],
        metavar="GHZ",
        help="AllSkyNsbGrid only: the NSB levels, e.g. 0.00 0.07 0.14 (--prod-id is the prefix)",
    )
    parser.add_argument(
        "--source-file",
        default=_default_source_file(),
        help="conda.sh or a venv's bin/activate (default: this Python's venv)",
    )
    parser.add_argument("--conda-env", default=None)
    parser.add_argument("--user-account", default=None, help="Slurm --account")
    parser.add_argument(
        "--lstchain-dump-config",
        default=default_dump_config_command(),
        help="lstchain_dump_config of the analysis environment",
    )
    parser.add_argument("--overwrite", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not PROD_ID_PATTERN.match(args.prod_id):
        print(
            f"generate-config: --prod-id {args.prod_id!r} may hold only letters, digits, '_', "
            "'.' and '-', starting with a letter or digit (e.g. 20250101_v0.12.3_my_source); "
            "nothing was written",
            file=sys.stderr,
        )
        return 2
    scan_root = expand_string(args.data_root, os.environ)
    if "${" in scan_root:
        print(f"generate-config: --data-root {args.data_root}: variable not set", file=sys.stderr)
        return 1
    request = GenerationRequest(
        prod_id=args.prod_id,
        data_root=args.data_root,
        scan_root=Path(scan_root),
        source_environment=SourceEnvironment(args.source_file, args.conda_env),
        user_account=args.user_account,
        dec_list=tuple(args.dec_list),
        source_prod_id=args.source_prod_id,
        zenith=args.zenith,
        nsb_levels=tuple(args.nsb_levels),
    )
    command_line = shlex.join(["lstflow", "generate-config", *sys.argv[2:]])
    try:
        productions = generate_all(args.kind, request)
        written = write_productions(
            productions,
            args.output_dir,
            command_line=command_line,
            dump_config_command=args.lstchain_dump_config,
            overwrite=args.overwrite,
        )
    except GenerationError as exc:
        print(f"generate-config: {exc}", file=sys.stderr)
        return 1
    for item in dict.fromkeys(item for generated in productions for item in generated.missing):
        print(f"missing: {item}", file=sys.stderr)
    status = 0
    for files in written:
        try:
            config = load_production(files.yaml)
        except ConfigError as exc:
            print(f"generate-config: the written config does not validate:\n{exc}", file=sys.stderr)
            status = 1
            continue
        counts = " ".join(f"{stage}={count}" for stage, count in config.entry_counts().items())
        print(f"wrote {files.yaml} ({counts}), {files.lstchain_config.name}, README.md")
    return status
