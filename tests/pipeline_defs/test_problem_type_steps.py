"""The XGBoost builder's step scripts for multiclass and regression models, on small data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score

from pipeline_defs import local_run
from pipeline_defs.steps import evaluate, preprocess

RNG = np.random.default_rng(7)


def _write_split(path: Path, labels: np.ndarray, features: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(np.column_stack([labels, features])).to_csv(path, header=False, index=False)


def _train(tmp_path: Path, params: dict[str, str], labels: np.ndarray, features: np.ndarray) -> Path:
    train_csv = tmp_path / "train.csv"
    _write_split(train_csv, labels, features)
    booster = local_run.train_booster(train_csv, train_csv, {**params, "num_round": "10"})
    return local_run.pack_model(booster, tmp_path / "model" / "model.tar.gz")


def test_multiclass_report_and_baseline(tmp_path: Path) -> None:
    features = RNG.normal(size=(90, 3))
    labels = np.repeat([0, 1, 2], 30)
    features[:, 0] += labels * 2.0  # separable enough to learn in ten rounds
    _train(tmp_path, {"objective": "multi:softprob", "num_class": "3", "max_depth": "2"}, labels, features)
    _write_split(tmp_path / "test" / "test.csv", labels, features)

    assert evaluate.main(["--base-dir", str(tmp_path), "--problem-type", "multiclass_classification"]) == 0

    report = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    metrics = report["multiclass_classification_metrics"]
    baseline = pd.read_csv(tmp_path / "quality_baseline" / "predictions.csv")
    assert list(baseline.columns) == ["prediction", "label"]
    assert baseline["label"].tolist() == labels.tolist()
    predicted = baseline["prediction"].to_numpy()
    assert set(predicted) <= {0, 1, 2}
    assert metrics["accuracy"] == {"value": accuracy_score(labels, predicted), "standard_deviation": "NaN"}
    assert metrics["macro_f1"]["value"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert metrics["weighted_f1"]["value"] == pytest.approx(f1_score(labels, predicted, average="weighted"))
    assert metrics["accuracy"]["value"] > 0.8
    matrix = metrics["confusion_matrix"]
    assert sorted(matrix) == ["0", "1", "2"]
    assert sum(matrix[actual][str(label)] for actual in matrix for label in range(3)) == 90
    assert matrix["1"]["1"] == int(((labels == 1) & (predicted == 1)).sum())


def test_regression_report_and_baseline(tmp_path: Path) -> None:
    features = RNG.normal(size=(80, 2))
    targets = 3.0 * features[:, 0] - features[:, 1] + RNG.normal(scale=0.1, size=80)
    _train(tmp_path, {"objective": "reg:squarederror", "max_depth": "3"}, targets, features)
    _write_split(tmp_path / "test" / "test.csv", targets, features)

    report = evaluate.run(tmp_path, problem_type="regression")

    baseline = pd.read_csv(tmp_path / "quality_baseline" / "predictions.csv")
    assert list(baseline.columns) == ["prediction", "label"]
    predicted = baseline["prediction"].to_numpy()
    metrics = report["regression_metrics"]
    assert sorted(metrics) == ["mae", "mse", "r2", "rmse"]
    assert metrics["mae"]["value"] == pytest.approx(mean_absolute_error(targets, predicted))
    assert metrics["mse"]["value"] == pytest.approx(mean_squared_error(targets, predicted))
    assert metrics["rmse"]["value"] == pytest.approx(np.sqrt(mean_squared_error(targets, predicted)))
    assert metrics["r2"]["value"] == pytest.approx(r2_score(targets, predicted))
    assert all(metric["standard_deviation"] == "NaN" for metric in metrics.values())


def test_a_binary_model_cannot_pass_for_a_multiclass_one(tmp_path: Path) -> None:
    features = RNG.normal(size=(40, 2))
    labels = np.repeat([0, 1], 20)
    _train(tmp_path, {"objective": "binary:logistic"}, labels, features)
    _write_split(tmp_path / "test" / "test.csv", np.repeat([0, 1, 2, 3], 10), features)

    with pytest.raises(evaluate.EvaluationError, match="multi:softprob and num_class"):
        evaluate.run(tmp_path, problem_type="multiclass_classification")


@pytest.mark.parametrize(
    ("problem_type", "labels", "message"),
    [
        ("multiclass_classification", [0, 1, 2.5], "class indices"),
        ("multiclass_classification", [-1, 0, 1], "class indices"),
        ("multiclass_classification", [2, 2, 2], "only one class"),
        ("regression", [1.0, float("nan"), 2.0], "finite numbers"),
    ],
)
def test_evaluate_refuses_labels_the_problem_type_cannot_have(
    tmp_path: Path, problem_type: str, labels: list[float], message: str
) -> None:
    path = tmp_path / "test.csv"
    _write_split(path, np.array(labels), np.ones((len(labels), 2)))

    with pytest.raises(evaluate.EvaluationError, match=message):
        evaluate.read_test_set(path, problem_type)


def _raw(tmp_path: Path, target: list[object]) -> Path:
    frame = pd.DataFrame({"x": np.arange(len(target), dtype="float64"), "target": target})
    raw = tmp_path / "input" / "raw" / "raw.csv"
    raw.parent.mkdir(parents=True)
    frame.to_csv(raw, index=False)
    return tmp_path


def test_preprocess_stratifies_multiclass_splits(tmp_path: Path) -> None:
    base = _raw(tmp_path, [0, 1, 2] * 30)

    counts = preprocess.run(base, problem_type="multiclass_classification")

    assert counts == {"train": 62, "validation": 14, "test": 14}
    for name in ("train", "validation", "test"):
        labels = pd.read_csv(base / "output" / name / f"{name}.csv", header=None)[0]
        assert sorted(labels.unique()) == [0, 1, 2], name


def test_preprocess_splits_a_regression_target_at_random(tmp_path: Path) -> None:
    base = _raw(tmp_path, list(np.linspace(10.5, 99.5, 60)))

    counts = preprocess.run(base, problem_type="regression")

    assert counts == {"train": 42, "validation": 9, "test": 9}
    targets = pd.concat(
        pd.read_csv(base / "output" / name / f"{name}.csv", header=None)[0] for name in ("train", "validation", "test")
    )
    assert sorted(targets) == pytest.approx(list(np.linspace(10.5, 99.5, 60)))


@pytest.mark.parametrize(
    ("problem_type", "target", "message"),
    [
        ("multiclass_classification", [0, 1, 2.5] * 20, "class indices 0, 1, 2"),
        ("multiclass_classification", ["a", "b", "c"] * 20, "class indices 0, 1, 2"),
        ("multiclass_classification", [0] * 30 + [2] * 30, "class 1 has 0 rows"),
        ("regression", ["high", "low"] * 30, "finite numbers for a regression"),
        ("binary_classification", [0, 1, 2] * 20, "must hold only 0 and 1"),
    ],
)
def test_preprocess_refuses_targets_the_problem_type_cannot_have(
    tmp_path: Path, problem_type: str, target: list[object], message: str
) -> None:
    base = _raw(tmp_path, target)

    assert preprocess.main(["--base-dir", str(base), "--problem-type", problem_type]) == preprocess.EXIT_BAD_INPUT
    with pytest.raises(preprocess.PreprocessError, match=message):
        preprocess.run(base, problem_type=problem_type)
