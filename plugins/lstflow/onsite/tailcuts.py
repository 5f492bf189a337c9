"""The tail-cut finder's result for a run: cleaning levels (→ ``tailcutXY``) and NSB level.

``lstchain_find_tailcuts`` writes ``dl1ab_RunNNNNN.json`` (the DL1b config) and logs
"Additional NSB rate (over dark MC): X". Both choose the run's DL1b directory and RF model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from lstflow.onsite.errors import PlanningError
from lstflow.onsite.files import NightFiles
from lstflow.onsite.paths import NightPaths

_NSB_LINE = re.compile(r"Additional NSB rate \(over dark MC\):\s*([-+0-9.eE]+|nan)")


@dataclass(frozen=True)
class TailcutChoice:
    """``config_file`` is what ``lstchain_dl1ab --config`` gets; ``simulated`` marks a stand-in."""

    picture: int
    boundary: int
    nsb: float
    config_file: Path
    simulated: bool = False

    @property
    def name(self) -> str:
        """The DL1b directory name (lstosa's ``dl1_prod_id``), e.g. ``tailcut84``."""
        return f"tailcut{self.picture}{self.boundary}"


def finder_config_file(paths: NightPaths, run_id: int) -> Path:
    return paths.tailcuts_dir / f"dl1ab_Run{run_id:05d}.json"


def finder_log_file(paths: NightPaths, run_id: int) -> Path:
    """lstchain_find_tailcuts' default log file name in its output directory."""
    return paths.tailcuts_dir / f"log_find_tailcuts_Run{run_id:05d}.log"


def read_tailcut_choice(files: NightFiles, paths: NightPaths, run_id: int) -> TailcutChoice:
    config_file, log_file = finder_config_file(paths, run_id), finder_log_file(paths, run_id)
    files.prefetch_texts((config_file, log_file))
    try:
        config_text, log_text = files.read_text(config_file), files.read_text(log_file)
        if config_text is None or log_text is None:
            missing = config_file if config_text is None else log_file
            raise FileNotFoundError(f"{missing} is missing, unreadable or too large")
        config = json.loads(config_text)
        levels = config["tailcuts_clean_with_pedestal_threshold"]
        picture, boundary = int(levels["picture_thresh"]), int(levels["boundary_thresh"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PlanningError(
            f"run {run_id}: no usable tail-cut finder output in {paths.tailcuts_dir} ({exc!r}). "
            "Fix: run the tail-cut finder task for this run first"
        ) from exc
    matches = _NSB_LINE.findall(log_text)
    if not matches or matches[-1] == "nan":
        raise PlanningError(
            f"{log_file}: no 'Additional NSB rate (over dark MC): X' line with a number. "
            "Fix: rerun the tail-cut finder for this run"
        )
    return TailcutChoice(picture, boundary, float(matches[-1]), config_file)


def tailcut_choice(
    files: NightFiles, paths: NightPaths, run_id: int, simulate: bool
) -> TailcutChoice:
    """The finder's result; in simulate mode the finder wrote nothing, so an absent result is
    replaced by lstchain's standard cleaning (8, 4) at dark NSB, flagged ``simulated``."""
    if simulate and not files.exists(finder_config_file(paths, run_id)):
        return TailcutChoice(8, 4, 0.0, finder_config_file(paths, run_id), simulated=True)
    return read_tailcut_choice(files, paths, run_id)
