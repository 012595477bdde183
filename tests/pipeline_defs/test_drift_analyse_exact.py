"""The drift step's ``analyse`` pinned exactly: the whole report, its refusals, the shadow's window and problem type,
and the log line (the survivors of `make mutate` over ``analyse``)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_defs.test_drift import NOW, drift

IN_WINDOW = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
TOO_OLD = (NOW - timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
# Five rows, one with a value that is no number in the numeric feature (pandas reads "n/a" as missing).
ROWS = [("1", "basic", "eu"), ("2", "pro", "us"), ("3", "basic", "eu"), ("4", "pro", "us"), ("n/a", "basic", "eu")]


def _line(values: tuple[str, ...], answer: str, event_id: str, when: str = IN_WINDOW) -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "data": ",".join(values), "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "text/csv", "data": answer, "encoding": "CSV"},
            },
            "eventMetadata": {"eventId": event_id, "inferenceTime": when},
            "eventVersion": "0",
        }
    )


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _base(tmp_path: Path) -> Path:
    """A baseline of ROWS and a capture of the same rows (binary answers 0.9, 0.1, ...) with a label each."""
    _write(
        tmp_path / "input" / "baseline" / "baseline.csv",
        ["x,plan,region,target", *(",".join([*row, str(index % 2)]) for index, row in enumerate(ROWS))],
    )
    answers = ["0.1" if index % 2 == 0 else "0.9" for index in range(len(ROWS))]
    _write(
        tmp_path / "input" / "capture" / "churn-ep" / "AllTraffic" / "2026" / "06" / "02" / "11" / "c.jsonl",
        [_line(row, answers[index], f"e{index}") for index, row in enumerate(ROWS)],
    )
    truth = {"groundTruthData": {"data": "", "encoding": "CSV"}, "eventMetadata": {"eventId": ""}}
    labels = []
    for index in range(len(ROWS)):
        truth["groundTruthData"]["data"] = str(index % 2)
        truth["eventMetadata"]["eventId"] = f"e{index}"
        labels.append(json.dumps(truth))
    _write(tmp_path / "input" / "ground-truth" / "labels.jsonl", labels)
    return tmp_path


def _args(base: Path, *extra: str) -> Any:
    argv = ["analyse", "--base-dir", str(base), "--model", "churn", "--environment", "prod", "--endpoint", "churn-ep"]
    return drift.parse_args([*argv, *extra])


def test_the_report_of_a_window_like_the_baseline_is_exactly_this(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = _base(tmp_path)
    with caplog.at_level(logging.INFO, logger="drift"):
        report = drift.analyse(_args(base, "--categorical", "plan,region", "--min-records", "5"), NOW)

    steady = {"psi": 0.0, "p_value": 1.0, "drifted": False}
    assert report == {
        "model": "churn",
        "environment": "prod",
        "endpoint": "churn-ep",
        "generated_at": "2026-06-02T12:00:00+00:00",
        "window_start": "2026-06-01T12:00:00+00:00",
        "records": 5,
        "baseline_records": 5,
        "enough_records": True,  # exactly --min-records
        "thresholds": {"psi": 0.2, "p_value": 0.01, "min_records": 5},
        # "n/a" is left out of x's statistics on both sides; plan and region are compared as categories.
        "features": {
            "x": {"test": "ks", **steady},
            "plan": {"test": "chi2", **steady},
            "region": {"test": "chi2", **steady},
        },
        "drifted_features": [],
        "problem_type": "binary_classification",
        "quality": {"labelled_records": 5, "accuracy": 1.0, "f1": 1.0, "auc": 1.0},
    }
    assert json.loads((base / "output" / "report" / "drift_report.json").read_text(encoding="utf-8")) == report
    assert caplog.messages == ["analysed 5 records: 0 of 3 features drifted []"]


def test_without_a_lookback_the_report_has_no_window_start(tmp_path: Path) -> None:
    report = drift.analyse(_args(_base(tmp_path), "--categorical", "plan,region", "--lookback-hours", "0"), NOW)

    assert report["window_start"] is None
    assert report["records"] == 5


def test_categorical_names_that_are_not_baseline_columns_are_refused(tmp_path: Path) -> None:
    with pytest.raises(drift.DriftInputError) as error:
        drift.analyse(_args(_base(tmp_path), "--categorical", "plan,colour,age"), NOW)

    assert str(error.value) == (
        "--categorical names ['age', 'colour'], which are not baseline columns ['x', 'plan', 'region']"
    )


def test_the_shadow_is_read_over_the_same_window_and_compared_by_problem_type(tmp_path: Path) -> None:
    base = _base(tmp_path)
    production = [_line(ROWS[0], "0.8,0.1,0.1" if i % 2 else "0.1,0.8,0.1", f"p{i}") for i in range(6)]
    shadow = [_line(ROWS[0], "0.1,0.1,0.8", f"s{i}") for i in range(6)]
    shadow += [_line(ROWS[0], "0.8,0.1,0.1", f"old{i}", TOO_OLD) for i in range(4)]  # before the window
    _write(base / "prod" / "c.jsonl", production)
    _write(base / "shadow" / "c.jsonl", shadow)

    report = drift.analyse(
        _args(
            base,
            "--categorical",
            "plan,region",
            "--problem-type",
            "multiclass_classification",
            "--capture-dir",
            str(base / "prod"),
            "--shadow-capture-dir",
            str(base / "shadow"),
            "--min-records",
            "6",
        ),
        NOW,
    )

    # A multiclass model's predicted classes are categories: chi-squared, not KS over class indexes.
    assert report["shadow"]["production_records"] == 6
    assert report["shadow"]["shadow_records"] == 6
    assert report["shadow"]["test"] == "chi2"
