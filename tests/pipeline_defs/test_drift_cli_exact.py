"""The drift step's entry points pinned exactly: ``main``'s log lines and exit codes, ``publish``, the JSON files it
writes and the predictions a shadow comparison uses (the survivors of `make mutate` over ``main``, ``publish``,
``_write_json`` and ``_predictions``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber

from tests.pipeline_defs.test_drift import drift
from tests.pipeline_defs.test_drift_analyse_exact import _base

METRICS = [
    {
        "MetricName": "CapturedRecords",
        "Dimensions": [
            {"Name": "Model", "Value": "churn"},
            {"Name": "Environment", "Value": "prod"},
            {"Name": "Endpoint", "Value": "churn-ep"},
        ],
        "Value": 5.0,
        "Unit": "Count",
    }
]


@contextmanager
def _fresh_root_logger() -> Iterator[None]:
    """The root logger of a fresh process (no handler, WARNING), so that ``main``'s ``basicConfig`` takes effect."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def _argv(base: Path, *extra: str) -> list[str]:
    argv = ["analyse", "--base-dir", str(base), "--model", "churn", "--environment", "prod", "--endpoint", "churn-ep"]
    return [*argv, *extra]


# --- main ----------------------------------------------------------------------------------------------------


def test_main_logs_the_analysis_at_info_in_the_jobs_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _base(tmp_path)
    with _fresh_root_logger():
        code = drift.main(_argv(base, "--categorical", "plan,region", "--lookback-hours", "0", "--min-records", "5"))

    assert code == 0
    assert capsys.readouterr().err == "INFO drift analysed 5 records: 0 of 3 features drifted []\n"
    report = json.loads((base / "output" / "report" / "drift_report.json").read_text(encoding="utf-8"))
    # The job's clock is UTC and says so: a naive time could not be compared with data capture's.
    assert datetime.fromisoformat(report["generated_at"]).utcoffset() is not None
    assert report["generated_at"].endswith("+00:00")


def test_main_logs_a_bad_input_as_one_error_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _fresh_root_logger():
        code = drift.main(_argv(tmp_path))

    assert code == drift.EXIT_BAD_INPUT == 2
    assert capsys.readouterr().err == (
        f"ERROR drift no baseline *.csv under {tmp_path / 'input' / 'baseline'}; "
        "the training pipeline's preprocess step writes it\n"
    )


# --- publish -------------------------------------------------------------------------------------------------


def _metrics_input(base: Path) -> Path:
    folder = base / "input" / "metrics" / "churn" / "drift" / "run-1" / "metrics"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(METRICS), encoding="utf-8")
    return base


def test_main_publish_creates_a_cloudwatch_client_and_sends_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    base = _metrics_input(tmp_path)
    # Another metrics.json under input/ but outside input/metrics is not the job's input.
    (base / "input" / "report").mkdir()
    (base / "input" / "report" / "metrics.json").write_text("[]", encoding="utf-8")
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    created: list[str] = []

    def make_client(service: str) -> Any:
        created.append(service)
        return client

    monkeypatch.setattr(boto3, "client", make_client)
    with Stubber(client) as stub, caplog.at_level(logging.INFO, logger="drift"):
        stub.add_response("put_metric_data", {}, {"Namespace": "MLOps/ModelMonitoring", "MetricData": METRICS})
        assert drift.main(["publish", "--base-dir", str(base)]) == 0
        stub.assert_no_pending_responses()

    assert created == ["cloudwatch"]
    assert caplog.messages == ["published 1 data points"]


def test_publish_without_a_metrics_file_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(drift.DriftInputError) as error:
        drift.publish(drift.parse_args(["publish", "--base-dir", str(tmp_path)]), client=object())

    assert str(error.value) == f"expected one metrics.json under {tmp_path}/input/metrics, found 0"


# --- _write_json ---------------------------------------------------------------------------------------------


def test_output_files_are_indented_with_sorted_keys_into_existing_folders(tmp_path: Path) -> None:
    # SageMaker creates a processing output's local folder before the job starts.
    path = tmp_path / "output" / "report" / "drift_report.json"
    path.parent.mkdir(parents=True)

    drift._write_json(path, {"b": 1, "a": [1.5, None]})

    assert path.read_text(encoding="utf-8") == '{\n  "a": [\n    1.5,\n    null\n  ],\n  "b": 1\n}'


def test_a_value_that_is_not_a_finite_number_is_never_written(tmp_path: Path) -> None:
    # NaN is not JSON: the publish job, CloudWatch and anyone reading the report would each treat it differently.
    with pytest.raises(ValueError, match=r"^Out of range float values are not JSON compliant"):
        drift._write_json(tmp_path / "metrics.json", [{"Value": float("nan")}])


# --- _predictions --------------------------------------------------------------------------------------------


def test_multiclass_predictions_are_the_most_probable_class_or_the_class_index_itself() -> None:
    outputs = pd.DataFrame({"event_id": ["a", "b", "c"], "output": [(2.0,), (0.1, 0.7, 0.2), (0.0,)]})

    assert drift._predictions(outputs, "multiclass_classification").tolist() == [2, 1, 0]
    assert drift._predictions(outputs, "regression").tolist() == [2.0, 0.1, 0.0]
