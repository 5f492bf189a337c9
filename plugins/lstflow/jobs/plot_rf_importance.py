"""Plot the feature importances of the trained random forests (lstmcpipe's RF-importance job).

    python -m lstflow.jobs.plot_rf_importance MODELS_DIR [-cf LSTCHAIN_CONFIG] [--overwrite]

Reads every ``*.sav`` model (joblib) in MODELS_DIR and writes
``MODELS_DIR/features_importance.png``, one panel per model, atomically. Feature names come
from the model itself (scikit-learn records them when lstchain trains on a DataFrame); the
lstchain config, if given, is only checked to be readable JSON so a wrong path fails loudly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lstflow.jobs.common import JobError, atomic_output, job_main, read_json, refuse_existing

OUTPUT_NAME = "features_importance.png"


def load_models(models_dir: Path) -> dict[str, Any]:
    import joblib

    paths = sorted(models_dir.glob("*.sav"))
    if not paths:
        raise JobError(f"no *.sav models in {models_dir}; did lstchain_mc_trainpipe run?")
    models = {}
    for path in paths:
        model = joblib.load(path)
        if not hasattr(model, "feature_importances_"):
            raise JobError(f"{path} is not a tree ensemble with feature importances")
        models[path.stem] = model
    return models


def feature_names(model: Any) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return [f"feature {i}" for i in range(len(model.feature_importances_))]
    return [str(name) for name in names]


def plot(models: dict[str, Any], output: Path, overwrite: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        len(models), 1, figsize=(8, 3.2 * len(models)), squeeze=False, layout="constrained"
    )
    for ax, (name, model) in zip(axes[:, 0], models.items(), strict=True):
        importances = np.asarray(model.feature_importances_)
        order = np.argsort(importances)
        labels = feature_names(model)
        ax.barh([labels[i] for i in order], importances[order])
        ax.set_title(name)
        ax.set_xlabel("importance")
    with atomic_output(output, overwrite) as tmp:
        figure.savefig(tmp, dpi=90)
    plt.close(figure)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lstflow.jobs.plot_rf_importance", description=__doc__
    )
    parser.add_argument("models_dir", type=Path)
    parser.add_argument("-cf", "--config-file", type=Path, help="lstchain config of the training")
    parser.add_argument("--overwrite", action="store_true")
    return parser


@job_main("plot_rf_importance")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    output = args.models_dir / OUTPUT_NAME
    refuse_existing(output, args.overwrite)
    if args.config_file is not None:
        read_json(args.config_file, "lstchain config")
    plot(load_models(args.models_dir), output, args.overwrite)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
