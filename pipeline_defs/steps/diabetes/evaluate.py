"""Score the ``diabetes`` regressor on the held-out test split and write the evaluation report.

Runs in the SageMaker scikit-learn 1.2-1 processing image, the library that trained the model. Reads
``<base>/model/model.tar.gz`` (``model.joblib`` from ``train.py``) and ``<base>/test/test.csv`` (target first, no
header). Writes:

- ``<base>/evaluation/evaluation.json``: ``regression_metrics`` (mae, mse, rmse, r2; each ``{"value",
  "standard_deviation"}``), the layout of SageMaker's model-quality metrics (AWS doc "Model quality metrics and
  Amazon CloudWatch monitoring"), so the model registry shows it; the pipeline's gate reads rmse or r2 from it;
- ``<base>/quality_baseline/predictions.csv``: ``prediction,label`` per test row (the model-quality baseline);
- ``<base>/evaluation/artifact.json``: SHA-256 and size of the exact ``model.tar.gz`` bytes scored.

An unusable model or test set stops the job with a message and exit code 2.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import posixpath
import sys
import tarfile
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]
import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score  # type: ignore[import-untyped]

LOGGER = logging.getLogger("evaluate")
DEFAULT_BASE_DIR = "/opt/ml/processing"
MODEL_FILE_NAME = "model.joblib"
EXIT_BAD_INPUT = 2


class EvaluationError(ValueError):
    """The model or the test data cannot be used; the message says what is wrong."""


def artifact_digest(model_tar: Path) -> dict[str, Any]:
    """SHA-256 (lowercase hex) and size of the model tarball's bytes."""
    if not model_tar.is_file():
        raise EvaluationError(f"model artifact {model_tar} does not exist")
    digest = hashlib.sha256()
    size = 0
    with model_tar.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(chunk)
            size += len(chunk)
    return {"model_artifact": {"sha256": digest.hexdigest(), "size_bytes": size}}


def load_model(model_tar: Path) -> Any:
    """Read ``model.joblib`` out of ``model.tar.gz`` without unpacking anything else."""
    try:
        with tarfile.open(model_tar, mode="r:gz") as archive:
            members = {posixpath.normpath(m.name): m for m in archive.getmembers() if m.isfile()}
            member = members.get(MODEL_FILE_NAME)
            if member is None:
                raise EvaluationError(f"{model_tar} holds {sorted(members)}, not {MODEL_FILE_NAME!r}")
            stream = archive.extractfile(member)
            raw = stream.read() if stream is not None else b""
    except (tarfile.TarError, OSError, EOFError) as error:
        raise EvaluationError(f"{model_tar} is not a readable .tar.gz: {error}") from None
    # Unpickling runs code from the file: acceptable only because the tarball is this pipeline's own training
    # output, read from its own encrypted bucket.
    return joblib.load(io.BytesIO(raw))


def read_test_set(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Targets and features of the headerless, target-first test CSV (finite numbers only)."""
    if not path.is_file():
        raise EvaluationError(f"test data {path} does not exist")
    try:
        values = pd.read_csv(path, header=None).to_numpy(dtype="float64")
    except (ValueError, pd.errors.EmptyDataError) as error:
        raise EvaluationError(f"test data {path} is not numeric CSV: {error}") from None
    if values.shape[1] < 2 or not np.isfinite(values).all():
        raise EvaluationError(f"test data {path} needs a target and features, all finite numbers")
    return values[:, 0], values[:, 1:]


def _metric(value: float) -> dict[str, Any]:
    # One evaluation on one test set has no standard deviation; SageMaker's layout spells that "NaN".
    return {"value": float(value), "standard_deviation": "NaN"}


def regression_report(targets: np.ndarray, predictions: np.ndarray) -> dict[str, Any]:
    """The report in SageMaker's ``regression_metrics`` layout (errors in the target's unit)."""
    mse = float(mean_squared_error(targets, predictions))
    return {
        "regression_metrics": {
            "mae": _metric(mean_absolute_error(targets, predictions)),
            "mse": _metric(mse),
            "rmse": _metric(np.sqrt(mse)),
            "r2": _metric(r2_score(targets, predictions)),
        }
    }


def run(base_dir: Path) -> dict[str, Any]:
    """Evaluate ``<base>/model`` on ``<base>/test``, write the three outputs, return the report."""
    model_tar = base_dir / "model" / "model.tar.gz"
    digest = artifact_digest(model_tar)  # before scoring: the digest names the bytes the metrics are about
    model = load_model(model_tar)
    targets, features = read_test_set(base_dir / "test" / "test.csv")
    try:
        predictions = np.asarray(model.predict(features), dtype="float64").reshape(-1)
    except ValueError as error:
        raise EvaluationError(f"the model cannot score the test data: {error}") from None
    if predictions.shape != targets.shape or not np.isfinite(predictions).all():
        raise EvaluationError("the model must predict one finite number per test row")
    report = regression_report(targets, predictions)
    evaluation = base_dir / "evaluation"
    evaluation.mkdir(parents=True, exist_ok=True)
    (evaluation / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (evaluation / "artifact.json").write_text(json.dumps(digest, indent=2) + "\n", encoding="utf-8")
    baseline = base_dir / "quality_baseline" / "predictions.csv"
    baseline.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"prediction": predictions, "label": targets}).to_csv(baseline, index=False)
    return report


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; 0, or 2 with a message when the input is unusable."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description="Evaluate the diabetes regressor.")
    parser.add_argument("--base-dir", type=Path, default=Path(DEFAULT_BASE_DIR))
    args = parser.parse_args(argv)
    try:
        report = run(args.base_dir)
    except EvaluationError as error:
        LOGGER.error("evaluate failed: %s", error)
        return EXIT_BAD_INPUT
    LOGGER.info("evaluation report: %s", json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
