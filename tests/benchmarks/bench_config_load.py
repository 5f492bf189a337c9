"""Benchmark: load and validate a ~2 MB production config with ~3,400 entries (the NSB grid).

Run: PYTHONPATH=plugins python tests/benchmarks/bench_config_load.py
Prints the cold time (YAML parse + validation) and the warm time (parse cache hit).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from lstflow.config import load_production

# The largest library config: r0 521, split 208, merge 331, train 9, dl2 1153, irfs 1153.
COUNTS = {
    "r0_to_dl1": 521,
    "train_test_split": 208,
    "merge_dl1": 331,
    "train_pipe": 9,
    "dl1_to_dl2": 1153,
    "dl2_to_irfs": 1153,
}
BASE = (
    "/fefs/aswg/data/mc/DL1/AllSky/20240918_v0.10.12_allsky_nsb_tuning_0.14/"
    "TrainingDataset/sim_telarray_lstprod2_v1.4"
)


def entry(stage: str, i: int) -> str:
    node = f"{BASE}/GammaDiffuse/dec_2276/node_corsika_theta_{i % 90}.123_az_{i % 360}.456_"
    slurm = "    extra_slurm_options:\n      nice: 10\n      time: 11:30:00\n      mem: 60GB\n"
    if stage == "train_test_split":
        split = f"    output:\n      train: {node}/train\n      test: {node}/test\n"
        return f"  - input: {node}\n{split}{slurm}"
    if stage == "train_pipe":
        inputs = f"    input:\n      gamma: {node}/g.h5\n      proton: {node}/p.h5\n"
        return f"  -{inputs[3:]}    output: {node}/models\n{slurm}"
    if stage == "dl1_to_dl2":
        model = f"    path_model: {node}/models\n"
        return f"  - input: {node}/merged.h5\n    output: {node}/dl2\n{model}{slurm}"
    if stage == "dl2_to_irfs":
        return (
            f"  - input:\n      gamma_file: {node}/dl2.h5\n      proton_file: null\n"
            f"      electron_file: null\n    output: {node}/irf.fits.gz\n"
            f"    options: --point-like\n{slurm}"
        )
    extra = "    options: --pattern */*.h5 --no-image\n" if stage == "merge_dl1" else ""
    return f"  - input: {node}\n    output: {node}/out\n{extra}{slurm}"


def write_big_config(directory: Path) -> Path:
    lines = [
        "workflow_kind: lstchain\nprod_id: bench_nsb_grid\n",
        "source_environment:\n  source_file: /fefs/aswg/software/conda/etc/profile.d/conda.sh\n"
        "  conda_env: lstchain-v0.10.12\nslurm_config:\n  user_account: dpps\n",
        "stages_to_run:\n" + "".join(f"- {stage}\n" for stage in COUNTS) + "stages:\n",
    ]
    for stage, count in COUNTS.items():
        lines.append(f"  {stage}:\n")
        lines.extend(entry(stage, i) for i in range(count))
    path = directory / "lstmcpipe_config_bench.yaml"
    path.write_text("".join(lines))
    (directory / "lstchain_config_bench.json").write_text("{}")
    return path


def best_of(runs: int, action: object) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        path = write_big_config(directory)
        config = load_production(path)
        entries = sum(len(config.entries(stage)) for stage in config.stages_to_run)
        print(f"config: {path.stat().st_size / 1e6:.2f} MB, {entries} entries")
        cold = best_of(5, lambda: load_production(path))
        print(f"parse + validate (no cache): {cold * 1000:.0f} ms")
        cache = directory / "cache"
        load_production(path, cache_dir=cache)
        warm = best_of(20, lambda: load_production(path, cache_dir=cache))
        print(f"parse cache hit:             {warm * 1000:.1f} ms")


if __name__ == "__main__":
    main()
