"""Train the ``diabetes`` regressor: scikit-learn's gradient boosting, in the AWS scikit-learn container's script mode.

The container's training toolkit (aws/sagemaker-training-toolkit, ``entry_point.run``; started by
``sagemaker_sklearn_container.training.main``) copies ``sagemaker_submit_directory`` to ``/opt/ml/code``, runs
``python <sagemaker_program>`` with every other hyperparameter as ``--name value`` and sets ``SM_MODEL_DIR`` and one
``SM_CHANNEL_<NAME>`` per input channel. Channels: ``train`` and ``validation`` (target first, no header) and
``inference`` (the serving script, copied into the model as ``code/inference.py`` so that the serving container
finds it in ``/opt/ml/model/code``).

Writes ``<model dir>/model.joblib`` and ``<model dir>/code/inference.py``; SageMaker tars the model directory into
``model.tar.gz``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path

import joblib  # type: ignore[import-untyped]
import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from sklearn.ensemble import GradientBoostingRegressor  # type: ignore[import-untyped]
from sklearn.metrics import mean_squared_error  # type: ignore[import-untyped]

LOGGER = logging.getLogger("train")
MODEL_FILE_NAME = "model.joblib"
INFERENCE_SCRIPT = "inference.py"
EXIT_BAD_INPUT = 2


class TrainingError(ValueError):
    """The input channels cannot be used; the message says what is wrong."""


def read_split(channel_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Targets and features of the one CSV in a channel directory (target first, no header)."""
    files = sorted(channel_dir.glob("*.csv"))
    if len(files) != 1:
        raise TrainingError(f"expected one CSV in {channel_dir}, found {[f.name for f in files]}")
    values = pd.read_csv(files[0], header=None).to_numpy(dtype="float64")
    return values[:, 0], values[:, 1:]


def the_script(channel_dir: Path) -> Path:
    """The one ``.py`` file of the ``inference`` channel (a CDK asset: its name is a content hash)."""
    scripts = sorted(channel_dir.glob("*.py"))
    if len(scripts) != 1:
        raise TrainingError(f"expected the inference script in {channel_dir}, found {[s.name for s in scripts]}")
    return scripts[0]


def train(args: argparse.Namespace) -> dict[str, float]:
    """Fit, save the model with its serving code, and return the validation RMSE."""
    y_train, x_train = read_split(args.train)
    y_validation, x_validation = read_split(args.validation)
    model = GradientBoostingRegressor(
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        learning_rate=args.learning_rate,
        subsample=args.subsample,
        random_state=args.random_state,
    )
    model.fit(x_train, y_train)
    rmse = float(np.sqrt(mean_squared_error(y_validation, model.predict(x_validation))))
    args.model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, args.model_dir / MODEL_FILE_NAME)
    code_dir = args.model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    shutil.copyfile(the_script(args.inference), code_dir / INFERENCE_SCRIPT)
    return {"validation_rmse": rmse}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Hyperparameters as the toolkit passes them, and the directories from its environment variables."""
    parser = argparse.ArgumentParser(description="Train the diabetes regressor.")
    parser.add_argument("--n-estimators", type=int, default=200)
    parser.add_argument("--max-depth", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--subsample", type=float, default=0.8)
    parser.add_argument("--random-state", type=int, default=42)
    parser.add_argument("--model-dir", type=Path, default=Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")))
    parser.add_argument("--train", type=Path, default=Path(os.environ.get("SM_CHANNEL_TRAIN", "train")))
    parser.add_argument("--validation", type=Path, default=Path(os.environ.get("SM_CHANNEL_VALIDATION", "validation")))
    parser.add_argument("--inference", type=Path, default=Path(os.environ.get("SM_CHANNEL_INFERENCE", "inference")))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; 0, or 2 with a message when a channel is unusable."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        metrics = train(parse_args(argv))
    except TrainingError as error:
        LOGGER.error("train failed: %s", error)
        return EXIT_BAD_INPUT
    LOGGER.info("trained: %s", json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
