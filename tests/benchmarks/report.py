"""One table from all benchmark results (plain text, pasted into the README as is)."""

from __future__ import annotations

from typing import Any


def _row(cells: list[str], widths: list[int]) -> str:
    return (
        "| "
        + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        + " |"
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return [_row(header, widths), rule, *(_row(row, widths) for row in rows)]


def render(results: dict[str, Any]) -> str:
    lines = [f"lstflow vs lstmcpipe 0.11.5 — {results['date']}, {results['machine']}", ""]
    if "parse" in results:
        lines.append("1. Parse (lstflow: DagBag of dags/lstflow_productions.py in a fresh process)")
        rows = [
            [
                row["library"],
                str(row["configs"]),
                f"{row['yaml_mb']:.1f}",
                f"{row['lstflow_cold_s']:.2f}"
                + (" (>30 s timeout!)" if row["cold_exceeds_import_timeout"] else ""),
                f"{row['lstflow_warm_s']:.2f}",
                _seconds2(row.get("lstflow_lineage_cold_s")),
                f"{row['lstflow_serialize_s']:.2f}",
                f"{row['lstflow_peak_rss_mb']:.0f}",
                f"{row['lstmcpipe_load_s']:.2f}",
                f"{row['lstmcpipe_failures']}",
            ]
            for row in results["parse"]
        ]
        header = [
            "library",
            "configs",
            "YAML MB",
            "lstflow cold s",
            "warm s",
            "lineage-aware cold s",
            "serialize s",
            "peak RSS MB",
            "lstmcpipe load s",
            "lstmcpipe failed",
        ]
        lines += [*_table(header, rows), ""]
    if "submission" in results:
        sub = results["submission"]
        lines.append(f"2. Submission of the {sub['entries']}-entry production (trivial payloads)")
        per_stage = ", ".join(
            f"{name} {stage['sbatch_calls']}" for name, stage in sub["lstflow"]["per_stage"].items()
        )
        rows = [
            [
                "lstflow",
                str(sub["lstflow"]["sbatch_calls"]),
                f"{sub['lstflow']['seconds']:.1f}",
                str(sub["lstflow"]["submit_rpcs"]),
                per_stage,
            ],
            [
                "lstmcpipe",
                str(sub["lstmcpipe"]["sbatch_calls"]),
                f"{sub['lstmcpipe']['seconds']:.1f}",
                str(sub["lstmcpipe"]["submit_rpcs"]),
                "one per entry (arrays only for r0_to_dl1)",
            ],
        ]
        header = [
            "tool",
            "sbatch calls",
            "wall s",
            "submit RPCs (sdiag)",
            "sbatch per stage (target <= 10)",
        ]
        lines += [*_table(header, rows), ""]
    if "orchestration" in results:
        orc = results["orchestration"]
        lines.append(
            f"3. Mini production end to end ({' -> '.join(orc['stages'])}; lstflow poll interval "
            f"{orc['poll_interval_s']:.0f} s)"
        )
        rows = []
        for tool in ("lstflow", "lstflow_lineage", "lstmcpipe"):
            if tool not in orc:
                continue
            side = orc[tool]
            transitions = ", ".join(f"{value:.0f}" for value in side["transitions_s"].values())
            rows.append(
                [
                    TOOL_NAMES[tool],
                    f"{side.get('wall_to_run_end_s', side['wall_to_last_job_end_s']):.0f}",
                    f"{side['wall_to_last_job_end_s']:.0f}",
                    transitions,
                    str(side["sbatch_calls"]),
                    str(side["rpcs_total"]),
                    str(side["rpcs_job_info"]),
                ]
            )
        header = [
            "tool",
            "wall s (done)",
            "to last job end s",
            "transitions s",
            "sbatch calls",
            "slurmctld RPCs",
            "job-info RPCs",
        ]
        lines += [*_table(header, rows)]
        lines.append(
            f"   wall ratio lstflow / lstmcpipe: stage by stage {orc['wall_ratio']:.2f}"
            + (
                f", lineage-aware {orc['lineage_wall_ratio']:.2f} (target <= 1.3)"
                if "lineage_wall_ratio" in orc
                else ""
            )
        )
        lines.append(f"   lstflow task states: {orc['lstflow']['task_states']}")
        for tool in ("lstflow", "lstflow_lineage"):
            timeline = orc.get(tool, {}).get("task_timeline", {})
            for task, events in timeline.items():
                steps = ", ".join(f"{event} {seconds:.1f}" for event, seconds in events)
                lines.append(f"   {TOOL_NAMES[tool]} {task} (s after trigger): {steps}")
        lines.append(f"   lstmcpipe job states: {orc['lstmcpipe']['states']}")
        lines.append("")
    if "controller" in results:
        con = results["controller"]
        lines.append(
            f"4. Status polling, {con['arrays']} arrays watched at once "
            f"(poll interval {con['poll_interval_s']:.0f} s)"
        )
        rows = [
            [
                f"{con['queries_per_cycle']:.2f}",
                f"{con['queries_per_minute']:.1f}",
                f"{con['slurmctld_job_info_rpcs_per_minute']:.1f}",
                f"{con['slurmctld_rpcs_per_minute']:.1f}",
            ]
        ]
        header = [
            "queries per cycle (target <= 1)",
            "queries per minute",
            "job-info RPCs/min (sdiag)",
            "all RPCs/min (sdiag, shared)",
        ]
        lines += [*_table(header, rows), "   lstmcpipe never polls: users run squeue by hand", ""]
    if "lineage" in results:
        lines += _lineage(results["lineage"])
    if "cli" in results:
        cli = results["cli"]
        lines.append("6. lstflow command line, CPU s (process and children)")
        rows = [
            ["lstflow --help", f"{cli['help_cpu_s']:.2f}", "<= 0.3"],
            [
                f"lstflow validate, {cli['entries']} entries, YAML edited (pre-commit)",
                f"{cli['validate_yaml_edited_cpu_s']:.2f}",
                "<= 1.5",
            ],
            ["  same, unchanged", f"{cli['validate_unchanged_cpu_s']:.2f}", ""],
            ["  same, cold (lstchain imported)", f"{cli['validate_cold_cpu_s']:.2f}", ""],
        ]
        lines += [*_table(["command", "CPU s", "target"], rows), ""]
    return "\n".join(lines)


TOOL_NAMES = {
    "lstflow": "lstflow",
    "lstflow_lineage": "lstflow, lineage-aware",
    "lstmcpipe": "lstmcpipe",
}


def _seconds2(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _seconds(value: float | None) -> str:
    return "missing" if value is None else f"{value:.0f}"


def _lineage(lin: dict[str, Any]) -> list[str]:
    decs = lin["decs"]
    training = ", ".join(f"{dec} {lin['train_seconds'][dec]} s" for dec in lin["train_seconds"])
    lines = [f"5. Three declinations, trainings of different lengths ({training})"]
    rows = [
        [
            tool,
            *(_seconds(lin[tool]["irfs_s"][decs[key]]) for key in ("A", "B", "C")),
            _seconds(lin[tool]["total_s"]),
        ]
        for tool in ("lstflow", "lstmcpipe")
    ]
    header = [
        "tool",
        f"dec A ({decs['A']}) IRFs s",
        f"dec B ({decs['B']}) IRFs s",
        f"dec C ({decs['C']}) IRFs s",
        "whole production s",
    ]
    lines += _table(header, rows)
    ratios = {name: lin[name] for name in ("dec_a_ratio", "total_ratio")}
    shown = {name: "n/a" if value is None else f"{value:.2f}" for name, value in ratios.items()}
    lines.append(
        f"   dec A ratio lstflow / lstmcpipe: {shown['dec_a_ratio']} (target <= 0.5); "
        f"whole production: {shown['total_ratio']} (target <= 1.05)"
    )
    lines.append(f"   lstflow task states: {lin['lstflow']['task_states']}")
    return [*lines, ""]
