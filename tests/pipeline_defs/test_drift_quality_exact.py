"""The drift step's model quality pinned at its boundaries (the survivors of `make mutate` over ``model_quality``).

These numbers become the ModelAUC/ModelAccuracy/ModelF1/ModelRMSE/ModelR2 metrics the quality alarms read.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from tests.pipeline_defs.test_drift import drift


def _frames(cases: dict[str, tuple[tuple[float, ...], float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    outputs = pd.DataFrame([{"event_id": k, "output": v[0]} for k, v in cases.items()], columns=["event_id", "output"])
    labels = pd.DataFrame([{"event_id": k, "label": float(v[1])} for k, v in cases.items()])
    return outputs, labels


def _quality(cases: dict[str, tuple[tuple[float, ...], float]], problem_type: str) -> dict[str, object] | None:
    # sklearn warns (UndefinedMetricWarning) where a metric is undefined: the step must decide those cases itself.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return drift.model_quality(*_frames(cases), problem_type)


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
