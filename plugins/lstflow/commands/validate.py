"""``lstflow validate PATH...``: check production configs, e.g. in the library's pull-request CI.

Every problem carries its line and column: ``--format text`` prints ``file:line:col: ...`` as
compilers do, ``--format json`` has ``line`` and ``column`` keys, and ``--format github`` prints
GitHub Actions workflow commands, so a pull-request check annotates the line itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from lstflow.config import ConfigIssue, discover, load_files
from lstflow.config.lstchain_json import check_with_lstchain, lstchain_available
from lstflow.config.parts import common_root, group_parts
from lstflow.config.yaml_positions import with_positions

FORMATS = ("text", "json", "github")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check production configs (files or directories, recursively)",
        description="Validate lstmcpipe-format production configs and their lstchain JSON. "
        "Exits 1 on any error.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (file:line:col: problem), json (a report on stdout) or github (GitHub "
        "Actions annotations on the lines of a pull request)",
    )
    parser.add_argument(
        "--json", dest="format", action="store_const", const="json", help="same as --format json"
    )
    parser.add_argument(
        "--no-lstchain",
        action="store_true",
        help="check only the JSON syntax of the lstchain config, not with lstchain's reader",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="parse cache and lstchain verdicts (default: $XDG_CACHE_HOME/lstflow, else "
        "~/.cache/lstflow): an unchanged lstchain JSON is not checked twice",
    )
    parser.set_defaults(handler=run)


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lstflow"


def _file_report(
    path: Path,
    issues: list[ConfigIssue],
    warnings: list[ConfigIssue],
    prod_id: str | None,
    entries: int | None,
) -> dict[str, Any]:
    if (issues or warnings) and path.is_file():
        text = path.read_text(errors="replace")
        issues, warnings = with_positions(text, issues), with_positions(text, warnings)
    return {
        "path": str(path),
        "ok": not issues,
        "prod_id": prod_id,
        "entries": entries,
        "errors": [issue.to_json(path) for issue in issues],
        "warnings": [warning.to_json(path) for warning in warnings],
    }


def collect(paths: list[Path], *, use_lstchain: bool, cache_dir: Path | None) -> dict[str, Any]:
    """The validation report of every config under ``paths``."""
    files: list[Path] = []
    reports: list[dict[str, Any]] = []
    for path in paths:
        if not path.exists():
            missing = ConfigIssue("", "no such file or directory", None)
            reports.append(_file_report(path, [missing], [], None, None))
            continue
        found = discover(path)
        if not found:
            empty = ConfigIssue("", "no *.yml or *.yaml file here", None)
            reports.append(_file_report(path, [empty], [], None, None))
        files.extend(found)
    loaded, errors = load_files(dict.fromkeys(files), cache_dir=cache_dir)
    for config_path, error in errors.items():
        reports.append(_file_report(config_path, error.issues, [], None, None))
    productions = group_parts(loaded.values(), common_root(loaded))
    json_files = sorted({c.lstchain_config for c in loaded.values() if c.lstchain_config})
    lstchain_issues = check_with_lstchain(json_files, cache_dir) if use_lstchain else {}
    for config_path, config in loaded.items():
        warnings: list[ConfigIssue] = list(config.warnings)
        issues = (
            list(lstchain_issues.get(config.lstchain_config, [])) if config.lstchain_config else []
        )
        entries = sum(len(config.entries(stage)) for stage in config.stages_to_run)
        reports.append(_file_report(config_path, issues, warnings, config.prod_id, entries))
    reports.sort(key=lambda report: report["path"])
    return {
        "ok": all(report["ok"] for report in reports),
        "files": reports,
        "productions": [
            {
                "prod_id": prod_id,
                "configs": [str(config.path) for config in parts.configs],
                "default": str(parts.default.path),
                "stages": list(parts.stages_to_run),
            }
            for prod_id, parts in productions.items()
        ],
    }


def run(args: argparse.Namespace) -> int:
    use_lstchain = not args.no_lstchain and lstchain_available()
    report = collect(args.paths, use_lstchain=use_lstchain, cache_dir=args.cache_dir)
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "github":
        _print_github(report)
    else:
        _print_text(report)
    return 0 if report["ok"] else 1


def _located(file: str, issue: dict[str, Any]) -> str:
    """``file:line:col: yaml.path: problem (fix)``, the form editors and terminals link."""
    if issue["line"] is None:
        return str(issue["text"])
    return f"{file}:{issue['line']}:{issue['column']}:" + str(issue["text"])[len(file) + 1 :]


def _escape(value: str, *, prop: bool = False) -> str:
    """GitHub workflow-command escaping (properties also escape ':' and ',')."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def _print_github(report: dict[str, Any]) -> None:
    for file in report["files"]:
        for level, issues in (("error", file["errors"]), ("warning", file["warnings"])):
            for issue in issues:
                where = [f"file={_escape(file['path'], prop=True)}"]
                if issue["line"] is not None:
                    where += [f"line={issue['line']}", f"col={issue['column']}"]
                title = _escape(issue["path"] or "lstflow validate", prop=True)
                message = issue["message"] + (f" ({issue['fix']})" if issue["fix"] else "")
                print(f"::{level} {','.join(where)},title={title}::{_escape(message)}")
    failed = sum(not file["ok"] for file in report["files"])
    print(f"{len(report['files'])} config(s) checked, {failed} with errors")


def _print_text(report: dict[str, Any]) -> None:
    for file in report["files"]:
        if file["ok"]:
            print(f"ok: {file['path']} ({file['prod_id']}, {file['entries']} entries)")
        for error in file["errors"]:
            print(f"error: {_located(file['path'], error)}")
        for warning in file["warnings"]:
            print(f"warning: {_located(file['path'], warning)}")
    for production in report["productions"]:
        if len(production["configs"]) > 1:
            print(
                f"production {production['prod_id']}: {len(production['configs'])} configs, "
                f"one DAG (default config: {production['default']})"
            )
    failed = sum(not file["ok"] for file in report["files"])
    print(
        f"{len(report['files'])} config(s) checked, {failed} with errors, "
        f"{len(report['productions'])} production(s)"
    )
