"""The drift monitor's model quality per problem type: the metrics, their values, and what reaches CloudWatch."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline_defs.steps import metric_contract as contract
from tests.pipeline_defs.test_drift import NOW, capture_line, drift

# Four multiclass answers (one probability per class, the SDK's XGBoost multi:softprob shape) and their labels:
# predicted 0, 1, 2, 0 against 0, 1, 1, 2.
MULTICLASS = {
    "e1": ((0.7, 0.2, 0.1), 0),
    "e2": ((0.1, 0.8, 0.1), 1),
    "e3": ((0.2, 0.3, 0.5), 1),
    "e4": ((0.6, 0.3, 0.1), 2),
}
REGRESSION = {"r1": ((10.0,), 12.0), "r2": ((20.0,), 18.0), "r3": ((30.0,), 33.0)}


def _frames(cases: dict[str, tuple[tuple[float, ...], float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    outputs = pd.DataFrame([{"event_id": k, "output": v[0]} for k, v in cases.items()], columns=["event_id", "output"])
    labels = pd.DataFrame([{"event_id": k, "label": float(v[1])} for k, v in cases.items()])
    return outputs, labels


def test_multiclass_quality_is_accuracy_and_macro_f1_of_the_most_probable_class() -> None:
    quality = drift.model_quality(*_frames(MULTICLASS), "multiclass_classification")
    # Per class F1: class 0 (TP 1, FP 1) 2/3, class 1 (TP 1, FN 1) 2/3, class 2 (FP 1, FN 1) 0: macro 4/9.
    assert quality == {"labelled_records": 4, "accuracy": 0.5, "f1": pytest.approx(4 / 9)}


def test_multiclass_quality_takes_a_single_value_as_the_predicted_class_index() -> None:
    cases = {"a": ((2.0,), 2), "b": ((0.0,), 1), "c": ((1.0,), 1)}
    quality = drift.model_quality(*_frames(cases), "multiclass_classification")
    # Classes 0 (FP 1) 0, 1 (TP 1, FN 1) 2/3, 2 (TP 1) 1: macro 5/9.
    assert quality == {"labelled_records": 3, "accuracy": pytest.approx(2 / 3), "f1": pytest.approx(5 / 9)}


def test_regression_quality_is_rmse_mae_and_r2() -> None:
    quality = drift.model_quality(*_frames(REGRESSION), "regression")
    # Errors -2, 2, -3: squared 17 in all; labels' mean 21, total sum of squares 81 + 9 + 144 = 234.
    assert quality == {
        "labelled_records": 3,
        "rmse": pytest.approx(math.sqrt(17 / 3)),
        "mae": pytest.approx(7 / 3),
        "r2": pytest.approx(1 - 17 / 234),
    }


def test_regression_r2_is_left_out_when_every_label_is_the_same() -> None:
    cases = {"a": ((1.0,), 5.0), "b": ((9.0,), 5.0)}
    quality = drift.model_quality(*_frames(cases), "regression")
    assert quality == {"labelled_records": 2, "rmse": 4.0, "mae": 4.0, "r2": None}


def test_binary_quality_is_unchanged_auc_accuracy_f1() -> None:
    cases = {"a": ((0.9,), 1), "b": ((0.4,), 1), "c": ((0.2,), 0), "d": ((0.6,), 0)}
    quality = drift.model_quality(*_frames(cases), "binary_classification")
    # Predicted 1, 0, 0, 1: accuracy 1/2, F1 of class 1 (TP 1, FN 1, FP 1) 1/2; AUC: 3 of 4 pairs ordered.
    assert quality == {"labelled_records": 4, "accuracy": 0.5, "f1": 0.5, "auc": 0.75}


@pytest.mark.parametrize(
    ("quality", "expected"),
    [
        (
            {"labelled_records": 4, "accuracy": 0.5, "f1": 0.25},
            [(contract.MODEL_ACCURACY, 0.5), (contract.MODEL_F1, 0.25)],
        ),
        (
            {"labelled_records": 3, "rmse": 2.5, "mae": 2.0, "r2": -0.5},
            [(contract.MODEL_MAE, 2.0), (contract.MODEL_R2, -0.5), (contract.MODEL_RMSE, 2.5)],
        ),
        (
            {"labelled_records": 2, "rmse": 4.0, "mae": 4.0, "r2": None},
            [(contract.MODEL_MAE, 4.0), (contract.MODEL_RMSE, 4.0)],
        ),
    ],
)
def test_each_quality_metric_goes_out_under_its_contract_name(
    quality: dict[str, Any], expected: list[tuple[str, float]]
) -> None:
    report = {"records": 4, "features": {}, "quality": quality}
    data = drift.contract_metrics(contract, report, model="m", environment="e", endpoint="ep")
    assert [(d["MetricName"], d["Value"]) for d in data] == [(contract.CAPTURED_RECORDS, 4.0), *expected]
    assert contract.validate_data(data) == data


def _write(base: Path, outputs: dict[str, str], labels: dict[str, str]) -> None:
    when = NOW - timedelta(hours=1)
    (base / "input" / "baseline").mkdir(parents=True)
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "target": [0, 1, 2]}).to_csv(base / "input" / "baseline" / "b.csv", index=False)
    capture = base / "input" / "capture" / "ep" / "AllTraffic" / "2026" / "06" / "02" / "11"
    capture.mkdir(parents=True)
    lines = [capture_line([index], answer, event, when) for index, (event, answer) in enumerate(outputs.items())]
    (capture / "c.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    truth = base / "input" / "ground-truth"
    truth.mkdir(parents=True)
    records = [
        json.dumps({"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": {"eventId": event}})
        for event, label in labels.items()
    ]
    (truth / "labels.jsonl").write_text("\n".join(records), encoding="utf-8")


def _analyse(base: Path, problem_type: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    argv = ["analyse", "--base-dir", str(base), "--model", "m", "--environment", "e", "--endpoint", "ep"]
    drift.analyse(drift.parse_args([*argv, "--problem-type", problem_type, "--min-records", "1"]), NOW)
    report = json.loads((base / "output" / "report" / drift.REPORT_FILE).read_text())
    metrics = json.loads((base / "output" / "metrics" / drift.METRICS_FILE).read_text())
    return report, metrics


def test_a_multiclass_endpoint_is_analysed_from_its_captured_probability_vectors(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {event: ",".join(map(str, probs)) for event, (probs, _) in MULTICLASS.items()},
        {event: str(label) for event, (_, label) in MULTICLASS.items()},
    )
    report, metrics = _analyse(tmp_path, "multiclass_classification")
    assert report["problem_type"] == "multiclass_classification"
    assert report["quality"] == {"labelled_records": 4, "accuracy": 0.5, "f1": pytest.approx(4 / 9)}
    quality = {m["MetricName"]: m["Value"] for m in metrics if m["MetricName"].startswith("Model")}
    assert quality == {contract.MODEL_ACCURACY: 0.5, contract.MODEL_F1: pytest.approx(4 / 9)}


def test_a_regression_endpoint_is_analysed_from_its_captured_numbers(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {event: str(value[0]) for event, (value, _) in REGRESSION.items()},
        {event: str(label) for event, (_, label) in REGRESSION.items()},
    )
    report, metrics = _analyse(tmp_path, "regression")
    assert report["quality"]["rmse"] == pytest.approx(math.sqrt(17 / 3))
    quality = {m["MetricName"]: m["Value"] for m in metrics if m["MetricName"].startswith("Model")}
    assert quality == {
        contract.MODEL_RMSE: pytest.approx(math.sqrt(17 / 3)),
        contract.MODEL_MAE: pytest.approx(7 / 3),
        contract.MODEL_R2: pytest.approx(1 - 17 / 234),
    }


def test_an_answer_that_is_not_numbers_is_a_clear_input_error(tmp_path: Path) -> None:
    _write(tmp_path, {"a": "cat"}, {"a": "1"})
    with pytest.raises(drift.DriftInputError, match=r"c\.jsonl:1: the model's output 'cat' is not numbers"):
        _analyse(tmp_path, "multiclass_classification")


def test_an_unknown_problem_type_is_refused_on_the_command_line() -> None:
    with pytest.raises(SystemExit):
        drift.parse_args(
            ["analyse", "--model", "m", "--environment", "e", "--endpoint", "ep", "--problem-type", "ranking"]
        )
