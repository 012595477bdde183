"""The drift step's shadow-test comparison: the shadow variant's predictions against production's, same window."""

from __future__ import annotations

import json
import logging
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline_defs.steps import metric_contract as contract
from tests.pipeline_defs.test_drift import NOW, drift

WHEN = NOW - timedelta(hours=1)
# Production's answers 0.00, 0.01, ..., 0.99: its deciles put ten answers in each of the ten PSI bins.
PRODUCTION = [index / 100 for index in range(100)]
# The shadow answers only in the upper half, twice as often: bins 0-4 empty (PSI_EPSILON), bins 5-9 hold 0.2 each.
SHIFTED = [index / 100 for index in range(50, 100)] * 2
SHIFTED_PSI = 5 * (0.1 - drift.PSI_EPSILON) * math.log(0.1 / drift.PSI_EPSILON) + 5 * (0.2 - 0.1) * math.log(2)


def _record(answer: str, event_id: str) -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1.0", "encoding": "CSV"},
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": answer,
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": event_id, "inferenceTime": WHEN.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }
    )


def _write_capture(base: Path, variant: str, answers: list[str]) -> None:
    folder = base / "input" / "data" / "ep" / variant / "2026" / "06" / "02" / "11"
    folder.mkdir(parents=True)
    lines = [_record(answer, f"{variant}-{index}") for index, answer in enumerate(answers)]
    (folder / "capture.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _base(tmp_path: Path, production: list[str], shadow: list[str] | None) -> Path:
    (tmp_path / "input" / "baseline").mkdir(parents=True)
    pd.DataFrame({"x": [1.0, 2.0], "target": [0, 1]}).to_csv(tmp_path / "input" / "baseline" / "b.csv", index=False)
    _write_capture(tmp_path, "AllTraffic", production)
    if shadow is not None:
        _write_capture(tmp_path, "Shadow", shadow)
    return tmp_path


def _argv(base: Path, *extra: str) -> list[str]:
    data = base / "input" / "data" / "ep"
    return [
        "analyse",
        "--base-dir",
        str(base),
        "--model",
        "m",
        "--environment",
        "e",
        "--endpoint",
        "ep",
        "--capture-dir",
        str(data / "AllTraffic"),
        "--ground-truth-dir",
        str(base / "input" / "data" / "ground-truth"),
        "--shadow-capture-dir",
        str(data / "Shadow"),
        "--min-records",
        "10",
        *extra,
    ]


def _outputs(answers: list[float]) -> pd.DataFrame:
    return pd.DataFrame([{"event_id": str(i), "output": (a,)} for i, a in enumerate(answers)])


def _shadow_metrics(base: Path) -> list[dict[str, Any]]:
    metrics = json.loads((base / "output" / "metrics" / drift.METRICS_FILE).read_text())
    return [entry for entry in metrics if entry["MetricName"] == contract.SHADOW_PREDICTION_DRIFT]


def test_identical_predictions_have_no_drift() -> None:
    found = drift.shadow_prediction_drift(
        _outputs(PRODUCTION), _outputs(PRODUCTION), problem_type="binary_classification", min_records=10
    )
    assert found == {
        "production_records": 100,
        "shadow_records": 100,
        "test": "ks",
        "psi": pytest.approx(0.0, abs=1e-12),
        "p_value": pytest.approx(1.0),
        "reason": None,
    }


def test_shifted_regression_predictions_have_the_hand_computed_psi() -> None:
    found = drift.shadow_prediction_drift(
        _outputs(PRODUCTION), _outputs(SHIFTED), problem_type="regression", min_records=10
    )
    assert found["test"] == "ks"
    assert found["psi"] == pytest.approx(SHIFTED_PSI, rel=1e-9)
    assert found["psi"] == pytest.approx(3.796997, abs=1e-6)


def test_multiclass_compares_the_predicted_classes() -> None:
    production = pd.DataFrame(
        [{"event_id": str(i), "output": (0.9, 0.1) if i < 50 else (0.1, 0.9)} for i in range(100)]
    )
    shadow = pd.DataFrame([{"event_id": str(i), "output": (0.9, 0.1) if i < 25 else (0.1, 0.9)} for i in range(100)])
    found = drift.shadow_prediction_drift(production, shadow, problem_type="multiclass_classification", min_records=10)
    # Classes 0/1 at 0.5/0.5 against 0.25/0.75: (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5) = 0.25 ln 3.
    assert found["test"] == "chi2"
    assert found["psi"] == pytest.approx(0.25 * math.log(3), rel=1e-9)


def test_too_few_shadow_predictions_give_no_psi_and_say_why() -> None:
    found = drift.shadow_prediction_drift(
        _outputs(PRODUCTION), _outputs([0.5] * 9), problem_type="binary_classification", min_records=10
    )
    assert found == {
        "production_records": 100,
        "shadow_records": 9,
        "psi": None,
        "reason": "9 shadow predictions in the window, fewer than --min-records 10",
    }


def test_analyse_publishes_the_shadow_prediction_drift_with_the_model_dimensions(tmp_path: Path) -> None:
    base = _base(tmp_path, [str(a) for a in PRODUCTION], [str(a) for a in SHIFTED])
    report = drift.analyse(drift.parse_args(_argv(base, "--problem-type", "regression")), NOW)
    assert report["records"] == 100  # production's capture only: the shadow's copies are not counted twice
    assert report["shadow"]["psi"] == pytest.approx(SHIFTED_PSI, rel=1e-9)
    (entry,) = _shadow_metrics(base)
    assert entry == {
        "MetricName": "ShadowPredictionDrift",
        "Dimensions": [
            {"Name": "Model", "Value": "m"},
            {"Name": "Environment", "Value": "e"},
            {"Name": "Endpoint", "Value": "ep"},
        ],
        "Value": pytest.approx(SHIFTED_PSI, rel=1e-9),
        "Unit": "None",
    }


def test_missing_shadow_capture_publishes_nothing_and_logs_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = _base(tmp_path, [str(a) for a in PRODUCTION], shadow=None)
    with caplog.at_level(logging.WARNING, logger="drift"):
        # main(): the job's own entry point, with every captured record in the window; it must not fail.
        assert drift.main(_argv(base, "--lookback-hours", "0")) == 0
    report = json.loads((base / "output" / "report" / drift.REPORT_FILE).read_text())
    assert report["shadow"] == {
        "production_records": 100,
        "shadow_records": 0,
        "psi": None,
        "reason": "0 shadow predictions in the window, fewer than --min-records 10",
    }
    assert _shadow_metrics(base) == []
    shadow_dir = base / "input" / "data" / "ep" / "Shadow"
    assert (
        f"no shadow prediction drift published for {shadow_dir}: 0 shadow predictions in the window, "
        "fewer than --min-records 10"
    ) in caplog.messages


def test_shadow_records_outside_the_window_do_not_count(tmp_path: Path) -> None:
    base = _base(tmp_path, [str(a) for a in PRODUCTION], [str(a) for a in PRODUCTION])
    # A one-hour window from NOW + 1 h leaves out every record (written at NOW - 1 h) on both sides.
    report = drift.analyse(drift.parse_args(_argv(base, "--lookback-hours", "1")), NOW + timedelta(hours=1))
    assert report["shadow"]["reason"] == "0 production predictions in the window, fewer than --min-records 10"
    assert _shadow_metrics(base) == []


def test_without_a_shadow_the_report_has_no_shadow_entry(tmp_path: Path) -> None:
    base = _base(tmp_path, [str(a) for a in PRODUCTION], shadow=None)
    argv = _argv(base)
    index = argv.index("--shadow-capture-dir")
    del argv[index : index + 2]
    report = drift.analyse(drift.parse_args(argv), NOW)
    assert "shadow" not in report
    assert _shadow_metrics(base) == []
