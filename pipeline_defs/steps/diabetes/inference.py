"""The serving code of the ``diabetes`` model: how the AWS scikit-learn container loads it and reads a request.

The container (aws/sagemaker-scikit-learn-container, ``src/sagemaker_sklearn_container/serving.py``) imports this
module as ``SAGEMAKER_PROGRAM`` from ``SAGEMAKER_SUBMIT_DIRECTORY`` (``/opt/ml/model/code``, where ``train.py``
puts it inside ``model.tar.gz``) and takes from it:

- ``model_fn``: scikit-learn has no default loader (the container's ``default_model_fn`` raises);
- ``input_fn``: the container's default decodes CSV with sagemaker-containers' ``csv_to_numpy``, which
  ``squeeze()``s the rows, so a one-row request becomes a 1-D array that ``predict`` refuses ("Expected 2D
  array"); and it only knows ``text/csv`` without parameters. Here every CSV body is a 2-D float array.

``predict_fn`` and ``output_fn`` stay the container's: ``model.predict`` (one number per row), encoded as the
request's ``Accept`` (the registered ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, text/csv, when there is none).
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any

import joblib  # type: ignore[import-untyped]
import numpy as np

MODEL_FILE_NAME = "model.joblib"
CSV = "text/csv"


class UnsupportedContentTypeError(ValueError):
    """The request is not CSV."""


def model_fn(model_dir: str) -> Any:
    """Load the fitted regressor ``train.py`` saved in ``model_dir`` (``/opt/ml/model``)."""
    return joblib.load(os.path.join(model_dir, MODEL_FILE_NAME))


def input_fn(input_data: str | bytes, content_type: str) -> np.ndarray:
    """Rows of comma-separated feature values (no header) as a 2-D float array, one row per line."""
    if content_type.split(";", maxsplit=1)[0].strip().lower() != CSV:
        raise UnsupportedContentTypeError(f"content type {content_type!r} is not supported; send {CSV}")
    text = input_data.decode("utf-8") if isinstance(input_data, bytes) else input_data
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if not rows:
        raise ValueError("the request has no rows")
    if len({len(row) for row in rows}) != 1:
        raise ValueError("every row must have the same number of values")
    return np.array(rows, dtype="float64")
