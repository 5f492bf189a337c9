"""Split a directory of DL1 files into train and test directories, idempotently.

lstmcpipe moves the files straight away, so a rerun after a crash finds a half-empty input
and splits what is left again. Here the decision is written first, atomically, to a plan
file; moving then follows the plan, and a rerun reads the plan and only finishes the moves.

The split is a seeded shuffle (``random.Random(seed)``, default seed 42) of the sorted
``*.h5`` names, the first ``ceil(ratio * n)`` going to test, like sklearn's
``train_test_split(shuffle=True, test_size=ratio)``. It is not sklearn's exact assignment;
we do not need it to be, because the plan file, not the seed, is the record of the split.

    python -m lstflow.jobs.train_test_split -i DL1 --otrain TRAIN --otest TEST [-r 0.5]
        [-l LIST_DIR] [--seed 42]

Writes ``LIST_DIR/train_test_split_plan.json``, ``training.list`` and ``testing.list``
(``LIST_DIR`` defaults to the parent of TEST, as in lstmcpipe).
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from lstflow.jobs.common import JobError, job_main, read_json, write_json_atomic, write_text_atomic

PLAN_NAME = "train_test_split_plan.json"


@dataclass(frozen=True)
class SplitPlan:
    input_dir: str
    train_dir: str
    test_dir: str
    ratio: float
    seed: int
    train: tuple[str, ...]
    test: tuple[str, ...]

    def destinations(self) -> list[tuple[str, Path]]:
        """Every file name with the directory it must end up in."""
        return [(name, Path(self.train_dir)) for name in self.train] + [
            (name, Path(self.test_dir)) for name in self.test
        ]

    def same_request(self, other: SplitPlan) -> bool:
        return (self.input_dir, self.train_dir, self.test_dir, self.ratio, self.seed) == (
            other.input_dir,
            other.train_dir,
            other.test_dir,
            other.ratio,
            other.seed,
        )


def choose_split(names: Sequence[str], ratio: float, seed: int) -> tuple[list[str], list[str]]:
    """Return (train, test) name lists; test gets ``ceil(ratio*n)`` files, both sorted."""
    if not 0.0 < ratio < 1.0:
        raise JobError(f"test ratio must be between 0 and 1 (exclusive), got {ratio}")
    ordered = sorted(names)
    shuffled = ordered[:]
    random.Random(seed).shuffle(shuffled)
    n_test = math.ceil(ratio * len(ordered))
    if len(ordered) >= 2:
        n_test = min(max(n_test, 1), len(ordered) - 1)
    return sorted(shuffled[n_test:]), sorted(shuffled[:n_test])


def make_plan(
    input_dir: Path, train_dir: Path, test_dir: Path, ratio: float, seed: int
) -> SplitPlan:
    names = [p.name for p in input_dir.glob("*.h5") if p.is_file()]
    if not names:
        raise JobError(
            f"no *.h5 files in {input_dir} and no split plan yet; check the stage's 'input'"
        )
    train, test = choose_split(names, ratio, seed)
    return SplitPlan(
        str(input_dir), str(train_dir), str(test_dir), ratio, seed, tuple(train), tuple(test)
    )


def read_plan(path: Path) -> SplitPlan:
    data = read_json(path, "split plan")
    try:
        return SplitPlan(**{**data, "train": tuple(data["train"]), "test": tuple(data["test"])})
    except (TypeError, KeyError) as exc:
        raise JobError(f"{path} is not a split plan ({exc}); remove it to plan again") from exc


def apply_plan(plan: SplitPlan) -> int:
    """Move every file not yet at its destination; return how many were moved."""
    moved = 0
    for name, destination_dir in plan.destinations():
        source, destination = Path(plan.input_dir) / name, destination_dir / name
        if destination.exists():
            if source.exists():
                raise JobError(
                    f"{name} exists both in {plan.input_dir} and in {destination_dir}; "
                    "remove the stale copy"
                )
            continue
        if not source.exists():
            raise JobError(f"{name} is in neither {plan.input_dir} nor {destination_dir}")
        destination_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(source, destination)
        moved += 1
    return moved


def write_lists(plan: SplitPlan, list_dir: Path) -> None:
    for list_name, directory, names in (
        ("training.list", plan.train_dir, plan.train),
        ("testing.list", plan.test_dir, plan.test),
    ):
        text = "".join(f"{Path(directory) / name}\n" for name in names)
        write_text_atomic(list_dir / list_name, text, overwrite=True)


def split(
    input_dir: Path, train_dir: Path, test_dir: Path, ratio: float, seed: int, list_dir: Path
) -> SplitPlan:
    plan_path = list_dir / PLAN_NAME
    wanted = SplitPlan(str(input_dir), str(train_dir), str(test_dir), ratio, seed, (), ())
    if plan_path.exists():
        plan = read_plan(plan_path)
        if not plan.same_request(wanted):
            raise JobError(
                f"{plan_path} was made for a different split (input {plan.input_dir}, train "
                f"{plan.train_dir}, test {plan.test_dir}, ratio {plan.ratio}, seed {plan.seed}); "
                "to split differently, move the files back and remove the plan"
            )
    else:
        plan = make_plan(input_dir, train_dir, test_dir, ratio, seed)
        write_json_atomic(plan_path, asdict(plan))
    moved = apply_plan(plan)
    write_lists(plan, list_dir)
    print(f"split {input_dir}: {len(plan.train)} train, {len(plan.test)} test, {moved} moved now")
    return plan


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lstflow.jobs.train_test_split", description=__doc__
    )
    parser.add_argument("-i", "--input-dir", type=Path, required=True)
    parser.add_argument("--otrain", type=Path, required=True, help="train output directory")
    parser.add_argument("--otest", type=Path, required=True, help="test output directory")
    parser.add_argument("-r", "--ratio", type=float, default=0.5, help="test fraction")
    parser.add_argument("-l", "--list-dir", type=Path, help="plan and lists (default: TEST/..)")
    parser.add_argument("--seed", type=int, default=42)
    return parser


@job_main("train_test_split")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    list_dir = args.list_dir or args.otest.resolve().parent
    split(
        args.input_dir.resolve(),
        args.otrain.resolve(),
        args.otest.resolve(),
        args.ratio,
        args.seed,
        list_dir,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
