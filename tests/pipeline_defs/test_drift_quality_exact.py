"""The drift step's model quality pinned at its boundaries (the survivors of `make mutate` over ``model_quality``).

These numbers become the ModelAUC/ModelAccuracy/ModelF1/ModelRMSE/ModelR2 metrics the quality alarms read.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pandas as pd
import pytest

from tests.pipeline_defs.test_drift import drift


def _frames(cases: dict[str, tuple[tuple[float, ...], float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    outputs = pd.DataFrame([{"event_id": k, "output": v[0]} for k, v in cases.items()], columns=["event_id", "output"])
    labels = pd.DataFrame([{"event_id": k, "label": float(v[1])} for k, v in cases.items()])
    return outputs, labels


def _quality(cases: dict[str, tuple[tuple[float, ...], float]], problem_type: str) -> dict[str, Any] | None:
    # sklearn warns (UndefinedMetricWarning) where a metric is undefined: the step must decide those cases itself.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quality: dict[str, Any] | None = drift.model_quality(*_frames(cases), problem_type)
    return quality


def test_a_probability_exactly_at_the_threshold_is_the_positive_class() -> None:
    quality = _quality({"a": ((0.5,), 1), "b": ((0.2,), 0)}, "binary_classification")
    assert quality == {"labelled_records": 2, "accuracy": 1.0, "f1": 1.0, "auc": 1.0}


def test_only_negative_labels_and_predictions_give_f1_zero_and_no_auc() -> None:
    # No positive anywhere: F1 is 0/0, taken as 0 without a warning; AUC is undefined with one class, so left out.
    quality = _quality({"a": ((0.1,), 0), "b": ((0.3,), 0)}, "binary_classification")
    assert quality == {"labelled_records": 2, "accuracy": 1.0, "f1": 0.0, "auc": None}


def test_regression_r2_is_given_with_two_distinct_labels() -> None:
    quality = _quality({"a": ((1.0,), 0.0), "b": ((3.0,), 4.0)}, "regression")
    # Errors 1 and -1: RMSE 1, MAE 1; labels' mean 2, total sum of squares 8: R2 1 - 2/8.
    assert quality == {"labelled_records": 2, "rmse": 1.0, "mae": 1.0, "r2": 0.75}


def test_a_two_class_probability_vector_predicts_its_most_probable_class() -> None:
    quality = _quality({"a": ((0.3, 0.7), 1), "b": ((0.8, 0.2), 0)}, "multiclass_classification")
    assert quality == {"labelled_records": 2, "accuracy": 1.0, "f1": 1.0}


def test_multiclass_f1_of_all_wrong_predictions_is_zero_without_a_warning() -> None:
    quality = _quality({"a": ((1.0,), 0), "b": ((2.0,), 1), "c": ((0.0,), 2)}, "multiclass_classification")
    assert quality == {"labelled_records": 3, "accuracy": 0.0, "f1": pytest.approx(0.0)}


@pytest.mark.parametrize(
    ("problem_type", "label", "message"),
    [
        ("binary_classification", 0.7, "event b: label 0.7 of a binary_classification model is not 0 or 1"),
        ("binary_classification", 2.0, "event b: label 2.0 of a binary_classification model is not 0 or 1"),
        ("binary_classification", -1.0, "event b: label -1.0 of a binary_classification model is not 0 or 1"),
        (
            "multiclass_classification",
            1.5,
            "event b: label 1.5 of a multiclass_classification model is not a class index 0, 1, 2, ...",
        ),
        (
            "multiclass_classification",
            -1.0,
            "event b: label -1.0 of a multiclass_classification model is not a class index 0, 1, 2, ...",
        ),
    ],
)
def test_a_classifier_label_that_is_no_class_is_refused(problem_type: str, label: float, message: str) -> None:
    # Documented labels (docs/bring-your-own-model.md): 0/1, or the class index. Truncating 0.7 to class 0 would
    # publish a wrong accuracy; 2 or -1 would stop scikit-learn with a traceback instead of naming the label.
    with pytest.raises(drift.DriftInputError) as error:
        _quality({"a": ((0.9,), 1), "b": ((0.2,), label)}, problem_type)

    assert str(error.value) == message


@pytest.mark.parametrize(
    ("problem_type", "label"), [("binary_classification", 1.0), ("multiclass_classification", 7.0)]
)
def test_the_highest_class_label_is_accepted(problem_type: str, label: float) -> None:
    quality = _quality({"a": ((0.9,), 0), "b": ((label,), label)}, problem_type)

    assert quality is not None and quality["labelled_records"] == 2


def test_a_regression_label_may_be_any_number() -> None:
    quality = _quality({"a": ((1.0,), -0.5), "b": ((3.0,), 2.5)}, "regression")

    # Errors 1.5 and 0.5: MAE 1, MSE 1.25; labels' mean 1, total sum of squares 4.5: R2 1 - 2.5/4.5.
    assert quality == {"labelled_records": 2, "rmse": math.sqrt(1.25), "mae": 1.0, "r2": pytest.approx(4 / 9)}
