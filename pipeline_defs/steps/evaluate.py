"""Score the trained model on the held-out test split and write the evaluation report.

Runs in the SageMaker XGBoost 1.7-1 image (so the xgboost that loads the model is the one
that trained it) and on a laptop; needs only xgboost, pandas, numpy and scikit-learn.

Reads ``<base>/model/model.tar.gz`` (the built-in algorithm's tarball holding
``xgboost-model``) and ``<base>/test/test.csv`` (label first, no header). ``--problem-type``
(default ``binary_classification``) says what the model predicts. Writes:

- ``<base>/evaluation/evaluation.json``: the layout of SageMaker's model-quality metrics (AWS doc
  "Model quality metrics and Amazon CloudWatch monitoring"), so the model registry shows it as the
  package's model statistics: ``binary_classification_metrics`` (auc, accuracy, f1, precision,
  recall, confusion matrix), ``multiclass_classification_metrics`` (accuracy, AWS's weighted
  precision/recall/F1, and ``macro_f1``, the gate's F1) or ``regression_metrics`` (mae, mse, rmse,
  r2). The pipeline's ConditionStep reads the configured gate metric from it;
- ``<base>/quality_baseline/predictions.csv``: per test row ``probability,prediction,label``
  (binary) or ``prediction,label`` (multiclass: the predicted class; regression: the predicted
  value), the input of the model-quality baseline;
- ``<base>/evaluation/artifact.json``: ``{"model_artifact": {"sha256": ..., "size_bytes": ...}}``,
  the lowercase hex SHA-256 of the exact ``model.tar.gz`` bytes this step scored. The
  pipeline records it on the model package (customer metadata ``ModelArtifactSha256``) so
  that whoever copies the artifact later can check it is the one that was evaluated.

A missing or unreadable model or test set stops the job with a message and exit code 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import pickle
import posixpath
import sys
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import xgboost as xgb
from sklearn.metrics import (  # type: ignore[import-untyped]
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

if TYPE_CHECKING:
    import numpy.typing as npt

LOGGER = logging.getLogger("evaluate")

DEFAULT_BASE_DIR = "/opt/ml/processing"
MODEL_FILE_NAME = "xgboost-model"
MODEL_TARBALL = "model.tar.gz"
ARTIFACT_REPORT = "artifact.json"
_HASH_CHUNK_BYTES = 1024 * 1024
LABELS = (0, 1)
EXIT_BAD_INPUT = 2
PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")
# Every pickle stream of protocol 2 or later starts with the PROTO opcode; the formats
# Booster.save_model writes (JSON and UBJSON start with "{", the legacy binary format
# with the base score) never do.
_PICKLE_PROTO = b"\x80"


class EvaluationError(ValueError):
    """The model or the test data cannot be used; the message says what is wrong."""


class LabelledData(NamedTuple):
    """The test split as arrays: the labels (0/1, class indices or target values) and the feature matrix."""

    labels: npt.NDArray[Any]
    features: npt.NDArray[np.float64]


def _unpickle(raw: bytes) -> object | None:
    """Unpickle ``raw``, or return None when it is not a pickle stream after all."""
    try:
        # Unpickling runs code from the file: acceptable only because the tarball is
        # this pipeline's own training output, read from its own encrypted bucket.
        return pickle.loads(raw)  # type: ignore[no-any-return]  # noqa: S301 - see the comment above
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError, TypeError):
        # A legacy binary model whose first byte happens to be 0x80.
        return None


def booster_from_bytes(raw: bytes) -> xgb.Booster:
    """Load a Booster from a pickle (older containers) or a save_model file (1.3-1 and later)."""
    model = _unpickle(raw) if raw[:1] == _PICKLE_PROTO else None
    if isinstance(model, xgb.Booster):
        return model
    if hasattr(model, "get_booster"):  # a pickled XGBClassifier also works
        booster: xgb.Booster = model.get_booster()
        return booster
    if model is not None:
        raise EvaluationError(f"{MODEL_FILE_NAME} unpickles to {type(model).__name__}, not a Booster")
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(raw))
    except xgb.core.XGBoostError as error:
        raise EvaluationError(f"{MODEL_FILE_NAME} is not an XGBoost model: {error}") from None
    return booster


def load_booster(model_tar: Path) -> xgb.Booster:
    """Read ``xgboost-model`` out of the training job's ``model.tar.gz`` without unpacking it."""
    if not model_tar.is_file():
        raise EvaluationError(f"model artifact {model_tar} does not exist")
    try:
        with tarfile.open(model_tar, mode="r:gz") as archive:
            # Only the one regular file is read, so a crafted member path cannot write anywhere.
            members = {posixpath.normpath(member.name): member for member in archive.getmembers() if member.isfile()}
            member = members.get(MODEL_FILE_NAME)
            if member is None:
                raise EvaluationError(f"{model_tar} holds {sorted(members)}, not {MODEL_FILE_NAME!r}")
            stream = archive.extractfile(member)
            if stream is None:  # pragma: no cover - isfile() members always have data
                raise EvaluationError(f"cannot read {MODEL_FILE_NAME} from {model_tar}")
            raw = stream.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise EvaluationError(f"{model_tar} is not a readable .tar.gz: {error}") from None
    if not raw:
        raise EvaluationError(f"{MODEL_FILE_NAME} in {model_tar} is empty")
    return booster_from_bytes(raw)


def artifact_digest(model_tar: Path) -> dict[str, Any]:
    """SHA-256 (lowercase hex) and size of the model tarball's bytes, read in chunks."""
    if not model_tar.is_file():
        raise EvaluationError(f"model artifact {model_tar} does not exist")
    digest = hashlib.sha256()
    size = 0
    with model_tar.open("rb") as stream:
        for chunk in iter(lambda: stream.read(_HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
            size += len(chunk)
    return {"model_artifact": {"sha256": digest.hexdigest(), "size_bytes": size}}


def read_test_set(path: Path, problem_type: str = "binary_classification") -> LabelledData:
    """Read a headerless, label-first CSV: 0/1 labels holding both classes (binary), class indices 0..K-1 holding
    at least two classes (multiclass), finite target values (regression)."""
    if not path.is_file():
        raise EvaluationError(f"test data {path} does not exist")
    try:
        frame = pd.read_csv(path, header=None)
    except pd.errors.EmptyDataError:
        raise EvaluationError(f"test data {path} is empty") from None
    if frame.shape[1] < 2:
        raise EvaluationError(f"test data {path} needs a label column and at least one feature")
    try:
        values = frame.to_numpy(dtype="float64")
    except ValueError as error:
        raise EvaluationError(f"test data {path} has non-numeric values: {error}") from None
    labels = values[:, 0]
    if problem_type == "regression":
        if not np.isfinite(labels).all():
            raise EvaluationError(f"targets in the first column of {path} must be finite numbers")
        return LabelledData(labels=labels, features=values[:, 1:])
    if problem_type == "multiclass_classification":
        if not (np.isfinite(labels).all() and (labels >= 0).all() and (labels == np.round(labels)).all()):
            raise EvaluationError(f"labels in the first column of {path} must be class indices 0, 1, 2, ...")
        if np.unique(labels).size < len(LABELS):
            raise EvaluationError(f"test data {path} holds only one class; accuracy and F1 need at least two")
        return LabelledData(labels=labels.astype("int64"), features=values[:, 1:])
    if not np.isin(labels, LABELS).all():
        found = sorted({str(value) for value in np.unique(labels) if value not in LABELS})
        raise EvaluationError(f"labels in the first column of {path} must be 0 or 1, found {found}")
    if np.unique(labels).size != len(LABELS):
        raise EvaluationError(f"test data {path} holds only one class; AUC needs both")
    return LabelledData(labels=labels.astype("int64"), features=values[:, 1:])


def predict_probabilities(booster: xgb.Booster, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return what the booster predicts for each row of ``features``: the positive-class probability (binary),
    one probability per class (multi:softprob) or the predicted value (regression)."""
    expected = booster.num_features()
    if features.shape[1] != expected:
        raise EvaluationError(f"the model was trained on {expected} features but the test data has {features.shape[1]}")
    probabilities: npt.NDArray[np.float64] = booster.predict(xgb.DMatrix(features)).astype("float64")
    return probabilities


def _metric(value: float) -> dict[str, Any]:
    # SageMaker's model-metrics JSON carries a standard deviation per metric; a single
    # test-set evaluation has none, which the format spells as the string "NaN".
    return {"value": float(value), "standard_deviation": "NaN"}


def classification_report(
    labels: npt.NDArray[np.int64],
    probabilities: npt.NDArray[np.float64],
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Return the evaluation report in SageMaker model-metrics form."""
    validate_threshold(threshold)
    predictions = (probabilities >= threshold).astype("int64")
    tn, fp, fn, tp = confusion_matrix(labels, predictions, labels=list(LABELS)).ravel()
    return {
        "binary_classification_metrics": {
            "auc": _metric(roc_auc_score(labels, probabilities)),
            "accuracy": _metric(accuracy_score(labels, predictions)),
            "f1": _metric(f1_score(labels, predictions, zero_division=0)),
            "precision": _metric(precision_score(labels, predictions, zero_division=0)),
            "recall": _metric(recall_score(labels, predictions, zero_division=0)),
            # Keyed actual label, then predicted label, as in SageMaker model quality reports.
            "confusion_matrix": {
                "0": {"0": int(tn), "1": int(fp)},
                "1": {"0": int(fn), "1": int(tp)},
            },
        }
    }


def multiclass_report(labels: npt.NDArray[np.int64], probabilities: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Return the multiclass evaluation report from one row of class probabilities per test row."""
    if probabilities.ndim != 2 or probabilities.shape[1] <= int(labels.max()):
        raise EvaluationError(
            f"the model predicts {probabilities.shape[1:] or 'one value'} per row but the test labels go up to "
            f"{int(labels.max())}; train with objective multi:softprob and num_class = the number of classes"
        )
    classes = list(range(probabilities.shape[1]))
    predictions = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predictions, labels=classes)
    weighted = {"average": "weighted", "labels": classes, "zero_division": 0}
    return {
        "multiclass_classification_metrics": {
            "accuracy": _metric(accuracy_score(labels, predictions)),
            "weighted_precision": _metric(precision_score(labels, predictions, **weighted)),
            "weighted_recall": _metric(recall_score(labels, predictions, **weighted)),
            "weighted_f1": _metric(f1_score(labels, predictions, **weighted)),
            # Every class counts the same, a rare one as much as a common one: the F1 the quality gate reads.
            "macro_f1": _metric(f1_score(labels, predictions, average="macro", labels=classes, zero_division=0)),
            "confusion_matrix": {
                str(actual): {str(predicted): int(matrix[actual][predicted]) for predicted in classes}
                for actual in classes
            },
        }
    }


def regression_report(targets: npt.NDArray[np.float64], predictions: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Return the regression evaluation report (errors in the target's own unit)."""
    if predictions.ndim != 1 or not np.isfinite(predictions).all():
        raise EvaluationError("the model must predict one finite number per row")
    mse = float(mean_squared_error(targets, predictions))
    return {
        "regression_metrics": {
            "mae": _metric(mean_absolute_error(targets, predictions)),
            "mse": _metric(mse),
            "rmse": _metric(np.sqrt(mse)),
            "r2": _metric(r2_score(targets, predictions)),
        }
    }


def predictions_frame(
    labels: npt.NDArray[np.int64],
    probabilities: npt.NDArray[np.float64],
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Return ``probability,prediction,label`` rows for the model-quality baseline."""
    validate_threshold(threshold)
    return pd.DataFrame(
        {
            "probability": probabilities,
            "prediction": (probabilities >= threshold).astype("int64"),
            "label": labels,
        }
    )


def validate_threshold(threshold: float) -> None:
    """Raise EvaluationError unless ``threshold`` is strictly between 0 and 1."""
    if not 0.0 < threshold < 1.0:
        raise EvaluationError(f"--threshold must be between 0 and 1, got {threshold}")


def report_and_predictions(
    problem_type: str, labels: npt.NDArray[Any], predicted: npt.NDArray[np.float64], threshold: float = 0.5
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The evaluation report and the model-quality baseline rows of ``problem_type``."""
    if problem_type == "regression":
        return regression_report(labels, predicted), pd.DataFrame({"prediction": predicted, "label": labels})
    if problem_type == "multiclass_classification":
        report = multiclass_report(labels, predicted)
        return report, pd.DataFrame({"prediction": predicted.argmax(axis=1).astype("int64"), "label": labels})
    return classification_report(labels, predicted, threshold), predictions_frame(labels, predicted, threshold)


def run(base_dir: Path, *, threshold: float = 0.5, problem_type: str = "binary_classification") -> dict[str, Any]:
    """Evaluate ``<base>/model`` on ``<base>/test``, write both outputs, return the report."""
    validate_threshold(threshold)
    if problem_type not in PROBLEM_TYPES:
        raise EvaluationError(f"--problem-type {problem_type!r}: allowed {', '.join(PROBLEM_TYPES)}")
    model_tar = base_dir / "model" / MODEL_TARBALL
    # Hashed before it is read for scoring: the digest names the bytes the metrics are about.
    digest = artifact_digest(model_tar)
    booster = load_booster(model_tar)
    test = read_test_set(base_dir / "test" / "test.csv", problem_type)
    predicted = predict_probabilities(booster, test.features)
    report, baseline_rows = report_and_predictions(problem_type, test.labels, predicted, threshold)

    evaluation = base_dir / "evaluation" / "evaluation.json"
    evaluation.parent.mkdir(parents=True, exist_ok=True)
    evaluation.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    predictions = base_dir / "quality_baseline" / "predictions.csv"
    predictions.parent.mkdir(parents=True, exist_ok=True)
    baseline_rows.to_csv(predictions, index=False)
    (evaluation.parent / ARTIFACT_REPORT).write_text(json.dumps(digest, indent=2) + "\n", encoding="utf-8")
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line the pipeline's ProcessingStep passes."""
    parser = argparse.ArgumentParser(description="Evaluate the trained XGBoost model.")
    parser.add_argument("--base-dir", type=Path, default=Path(DEFAULT_BASE_DIR))
    parser.add_argument("--threshold", type=float, default=0.5, help="binary classifiers: positive at or above")
    parser.add_argument("--problem-type", default="binary_classification", choices=PROBLEM_TYPES)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns 0, or 2 with a message on stderr when the input is unusable."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    try:
        report = run(args.base_dir, threshold=args.threshold, problem_type=args.problem_type)
    except EvaluationError as error:
        LOGGER.error("evaluate failed: %s", error)
        return EXIT_BAD_INPUT
    LOGGER.info("evaluation report: %s", json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
