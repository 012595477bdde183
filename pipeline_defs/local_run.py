"""Run the sample model's pipeline on this machine before paying for a SageMaker job.

sample data -> preprocess -> train -> evaluate, with the same step scripts, arguments,
file layout and hyperparameters as the SageMaker pipeline. Only training differs: the
xgboost Python package stands in for the built-in algorithm container, reading the same
label-first CSVs and packing ``model.tar.gz`` the way the container does.

Usage: ``python -m pipeline_defs.local_run [--workdir DIR]`` prints the evaluation report.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import xgboost as xgb

from pipeline_defs.steps import evaluate, preprocess
from pipeline_defs.steps.hyperparameters import DEFAULT_HYPERPARAMETERS
from pipeline_defs.steps.sample_data import write_sample_dataset

DEFAULT_WORKDIR = Path("build/local-run")
DEFAULT_NUM_ROUND = int(DEFAULT_HYPERPARAMETERS["num_round"])


class LocalRunError(RuntimeError):
    """A step of the local run failed; its own message was logged above."""


def read_label_first_csv(path: Path) -> xgb.DMatrix:
    """Read a headerless, label-first CSV into a DMatrix, as the built-in container does."""
    values = pd.read_csv(path, header=None).to_numpy(dtype="float64")
    return xgb.DMatrix(values[:, 1:], label=values[:, 0])


def train_booster(
    train_csv: Path,
    validation_csv: Path,
    hyperparameters: Mapping[str, str],
    *,
    seed: int = 42,
) -> xgb.Booster:
    """Train like the built-in algorithm: string hyperparameters, ``num_round`` rounds."""
    params: dict[str, Any] = dict(hyperparameters)
    num_round = int(params.pop("num_round"))
    params["seed"] = seed
    dtrain = read_label_first_csv(train_csv)
    dvalidation = read_label_first_csv(validation_csv)
    return xgb.train(
        params,
        dtrain,
        num_boost_round=num_round,
        evals=[(dtrain, "train"), (dvalidation, "validation")],
        verbose_eval=False,
    )


def pack_model(booster: xgb.Booster, model_tar: Path) -> Path:
    """Write ``model_tar`` holding the booster as ``xgboost-model``, like the container.

    The built-in algorithm saves with ``Booster.save_model("<model dir>/xgboost-model")``
    (aws/sagemaker-xgboost-container, ``algorithm_mode/train.py``) and SageMaker tars the model
    directory into ``model.tar.gz``; the same call is made here, with the local xgboost.
    """
    model_tar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as model_dir:
        saved = Path(model_dir) / evaluate.MODEL_FILE_NAME
        booster.save_model(str(saved))
        raw = saved.read_bytes()
    with tarfile.open(model_tar, mode="w:gz") as archive:
        info = tarfile.TarInfo(evaluate.MODEL_FILE_NAME)
        info.size = len(raw)
        archive.addfile(info, io.BytesIO(raw))
    return model_tar


def _copy(source: Path, target: Path) -> None:
    # Mirrors SageMaker copying one step's output into the next step's input directory.
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def run_local(
    workdir: Path,
    *,
    seed: int = 42,
    num_round: int = DEFAULT_NUM_ROUND,
) -> dict[str, Any]:
    """Run every step under ``workdir`` and return the evaluation report.

    ``workdir/preprocess`` and ``workdir/evaluate`` are the two processing jobs' base
    directories (what ``/opt/ml/processing`` is in the containers); ``workdir/train``
    holds the model tarball.
    """
    prep = workdir / "preprocess"
    write_sample_dataset(prep / "input" / "raw" / "raw.csv")
    if preprocess.main(["--base-dir", str(prep), "--seed", str(seed)]) != 0:
        raise LocalRunError("preprocess failed")

    hyperparameters = {**DEFAULT_HYPERPARAMETERS, "num_round": str(num_round)}
    booster = train_booster(
        prep / "output" / "train" / "train.csv",
        prep / "output" / "validation" / "validation.csv",
        hyperparameters,
        seed=seed,
    )
    model_tar = pack_model(booster, workdir / "train" / "model.tar.gz")

    evaluation = workdir / "evaluate"
    _copy(model_tar, evaluation / "model" / "model.tar.gz")
    _copy(prep / "output" / "test" / "test.csv", evaluation / "test" / "test.csv")
    if evaluate.main(["--base-dir", str(evaluation)]) != 0:
        raise LocalRunError("evaluate failed")
    report: dict[str, Any] = json.loads((evaluation / "evaluation" / "evaluation.json").read_text(encoding="utf-8"))
    return report


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run locally and print the evaluation report as JSON."""
    parser = argparse.ArgumentParser(description="Run the sample model's pipeline locally.")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--num-round", type=int, default=DEFAULT_NUM_ROUND)
    args = parser.parse_args(argv)
    try:
        report = run_local(args.workdir, seed=args.seed, num_round=args.num_round)
    except LocalRunError as error:
        parser.exit(1, f"local run failed: {error}\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
