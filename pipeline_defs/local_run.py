"""Run a sample model's pipeline on this machine before paying for a SageMaker job.

sample data -> preprocess -> train -> evaluate, with the same step scripts, arguments,
file layout and hyperparameters as the SageMaker pipeline.

- ``breast-cancer`` (built-in XGBoost): only training differs: the xgboost Python package
  stands in for the built-in algorithm container, reading the same label-first CSVs and
  packing ``model.tar.gz`` the way the container does.
- ``diabetes`` (scikit-learn): its own ``train.py`` runs as the container's training toolkit
  runs it (channels as directories, ``--name value`` hyperparameters, ``SM_MODEL_DIR``) and the
  model directory is packed into ``model.tar.gz`` as SageMaker packs it.

Usage: ``python -m pipeline_defs.local_run [--model NAME] [--workdir DIR]`` prints the evaluation report.
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

from pipeline_defs.diabetes_pipeline import DEFAULT_HYPERPARAMETERS as DIABETES_HYPERPARAMETERS
from pipeline_defs.steps import evaluate, preprocess
from pipeline_defs.steps.diabetes import evaluate as diabetes_evaluate
from pipeline_defs.steps.diabetes import preprocess as diabetes_preprocess
from pipeline_defs.steps.diabetes import sample_data as diabetes_sample_data
from pipeline_defs.steps.diabetes import train as diabetes_train
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


def pack_model_dir(model_dir: Path, model_tar: Path) -> Path:
    """Tar the contents of ``model_dir`` (not the directory itself) into ``model_tar``, as SageMaker packs
    /opt/ml/model at the end of a training job; sorted names and no timestamps keep the bytes reproducible."""
    model_tar.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(model_tar, mode="w:gz") as archive:
        for path in sorted(model_dir.rglob("*")):
            info = archive.gettarinfo(str(path), arcname=path.relative_to(model_dir).as_posix())
            info.mtime = 0
            if path.is_file():
                with path.open("rb") as stream:
                    archive.addfile(info, stream)
            else:
                archive.addfile(info)
    return model_tar


def run_local_diabetes(workdir: Path, *, seed: int = 42) -> dict[str, Any]:
    """Run the diabetes pipeline's steps under ``workdir`` and return the evaluation report.

    ``workdir/train/input/data/<channel>`` are the training job's channels and ``workdir/train/model`` its
    ``SM_MODEL_DIR``; the inference script arrives in its channel under another name, as its asset does.
    """
    prep = workdir / "preprocess"
    diabetes_sample_data.write_sample_dataset(prep / "input" / "raw" / "raw.csv")
    if diabetes_preprocess.main(["--base-dir", str(prep), "--seed", str(seed)]) != 0:
        raise LocalRunError("preprocess failed")

    channels = workdir / "train" / "input" / "data"
    for name in ("train", "validation"):
        _copy(prep / "output" / name / f"{name}.csv", channels / name / f"{name}.csv")
    inference_script = Path(diabetes_train.__file__).with_name("inference.py")
    _copy(inference_script, channels / "inference" / "asset-of-inference.py")
    model_dir = workdir / "train" / "model"
    hyperparameters = [f"--{name}={value}" for name, value in sorted(DIABETES_HYPERPARAMETERS.items())]
    arguments = [
        *hyperparameters,
        f"--random-state={seed}",
        f"--model-dir={model_dir}",
        *(f"--{name}={channels / name}" for name in ("train", "validation", "inference")),
    ]
    if diabetes_train.main(arguments) != 0:
        raise LocalRunError("train failed")
    model_tar = pack_model_dir(model_dir, workdir / "train" / "model.tar.gz")

    evaluation = workdir / "evaluate"
    _copy(model_tar, evaluation / "model" / "model.tar.gz")
    _copy(prep / "output" / "test" / "test.csv", evaluation / "test" / "test.csv")
    if diabetes_evaluate.main(["--base-dir", str(evaluation)]) != 0:
        raise LocalRunError("evaluate failed")
    report: dict[str, Any] = json.loads((evaluation / "evaluation" / "evaluation.json").read_text(encoding="utf-8"))
    return report


MODELS = ("breast-cancer", "diabetes")


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run locally and print the evaluation report as JSON."""
    parser = argparse.ArgumentParser(description="Run a sample model's pipeline locally.")
    parser.add_argument("--model", choices=MODELS, default="breast-cancer")
    parser.add_argument("--workdir", type=Path, default=None, help="default: build/local-run/<model>")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--num-round", type=int, default=DEFAULT_NUM_ROUND, help="breast-cancer only")
    args = parser.parse_args(argv)
    workdir = args.workdir or DEFAULT_WORKDIR / args.model
    try:
        if args.model == "diabetes":
            report = run_local_diabetes(workdir, seed=args.seed)
        else:
            report = run_local(workdir, seed=args.seed, num_round=args.num_round)
    except LocalRunError as error:
        parser.exit(1, f"local run failed: {error}\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
