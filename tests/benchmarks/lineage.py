"""Benchmark 5: a 3-declination production whose trainings take different times, lstflow
against lstmcpipe: when does each declination's IRFs exist, and when does the production end?

The production is generated like the others (AllSkyFull, three declinations, one training node
per particle and two test nodes): r0_to_dl1 → merge_dl1 → train_pipe → dl1_to_dl2 → dl2_to_irfs.
Payloads are trivial but for two tools: ``lstchain_mc_trainpipe`` sleeps per declination (dec B
four times dec A) and ``lstchain_create_irf_files`` writes the time it ran into the IRF file it
is given, which is when that IRF exists. lstflow runs through real Airflow processes (triggered
as the UI does, see ``benchmarks.orchestration``), lstmcpipe through its afterok chain, one
after the other in the same run.

lstmcpipe makes every DL2 job wait for every training, so its dec A IRFs come after dec B's
training; a lineage-aware lstflow would give dec A's IRFs at dec A's own pace
(target: ``dec_a_ratio`` <= 0.5, ``total_ratio`` <= 1.05).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.clusterbench import ClusterWorkspace
from benchmarks.libraries import Template
from benchmarks.orchestration import POLL_INTERVAL, run_lstflow, run_lstmcpipe

LINEAGE = Template(
    "lineage",
    "AllSkyFull",
    "20250101_v0.12.3_allsky_lineage",
    decs=3,
    train_nodes=1,
    test_nodes=2,
    conda_env="lstchain-v0.12.3",
)
DEC_A, DEC_B, DEC_C = LINEAGE.dec_list
#: Seconds each declination's training sleeps: dec B 4x dec A.
TRAIN_SECONDS = {DEC_A: 10, DEC_B: 40, DEC_C: 20}
IRF_TOOL = "lstchain_create_irf_files"
TRAIN_TOOL = "lstchain_mc_trainpipe"


def payloads() -> dict[str, str]:
    """sh bodies of the two tools that do something (see the module docstring)."""
    train = 'case "$*" in\n'
    train += "".join(f"  *{dec}*) sleep {seconds} ;;\n" for dec, seconds in TRAIN_SECONDS.items())
    train += "esac\n"
    irf = (
        'while [ "$#" -gt 0 ]; do\n'
        '  if [ "$1" = "-o" ]; then mkdir -p "$(dirname "$2")" && date +%s.%N > "$2"; fi\n'
        "  shift\n"
        "done\n"
    )
    return {TRAIN_TOOL: train, IRF_TOOL: irf}


def irf_times(workspace: ClusterWorkspace, prod_id: str, started_epoch: float) -> dict[str, Any]:
    """Per declination, seconds from the start until its last IRF was written, and how many
    of its IRFs exist (``LINEAGE.test_nodes`` expected)."""
    root = workspace.data_root / "mc" / "IRF" / "AllSky" / prod_id
    seconds: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for dec in LINEAGE.dec_list:
        files = sorted(root.rglob(f"irf_*_{dec}_*.fits.gz"))
        written = [float(path.read_text().strip()) for path in files if _nonempty(path)]
        counts[dec] = len(written)
        complete = len(written) == LINEAGE.test_nodes
        seconds[dec] = max(written) - started_epoch if complete else None
    return {"irfs_s": seconds, "irf_files": counts}


def _nonempty(path: Path) -> bool:
    return path.stat().st_size > 0


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def run() -> dict[str, Any]:
    workspace = ClusterWorkspace.create("lineage")
    workspace.payloads = payloads()
    try:
        print("[lineage] lstflow through Airflow ...", flush=True)
        prod_flow = "bench_lineage_lstflow"
        flow = run_lstflow(workspace, LINEAGE, prod_flow, "airflow-lineage", lineage=True)
        flow |= irf_times(workspace, prod_flow, flow["started_epoch"])
        flow["total_s"] = flow["wall_to_run_end_s"]
        print("[lineage] lstmcpipe ...", flush=True)
        prod_pipe = "bench_lineage_lstmcpipe"
        pipe = run_lstmcpipe(workspace, LINEAGE, prod_pipe)
        pipe |= irf_times(workspace, prod_pipe, pipe["started_epoch"])
        pipe["total_s"] = pipe["wall_to_last_job_end_s"]
    finally:
        workspace.remove()
    return {
        "poll_interval_s": POLL_INTERVAL,
        "train_seconds": TRAIN_SECONDS,
        "decs": {"A": DEC_A, "B": DEC_B, "C": DEC_C},
        "lstflow": flow,
        "lstmcpipe": pipe,
        "dec_a_ratio": _ratio(flow["irfs_s"][DEC_A], pipe["irfs_s"][DEC_A]),
        "total_ratio": _ratio(flow["total_s"], pipe["total_s"]),
    }


__all__ = ["LINEAGE", "run"]
