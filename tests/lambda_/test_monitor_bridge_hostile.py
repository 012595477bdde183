"""Reports the Model Monitor bridge cannot trust: one structured error naming object and field, nothing published.

Each case puts a hostile report into moto's S3, drives the real handler with the real-shaped event, and checks
that (1) the invocation raises ``ReportRejectedError`` (so it fails into the function's dead-letter destination),
(2) the error names the bucket, key and field, (3) the one error log line carries the same fields, and (4) not a
single PutMetricData call was made (counted on the client's own event hooks) and moto holds no metric.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from pipeline_defs.steps import metric_contract as contract
from tests.lambda_ import test_monitor_bridge as base
from tests.lambda_.conftest import FakeLambdaContext
from tests.lambda_.test_monitor_bridge import (
    BUCKET,
    DATA_VIOLATIONS,
    ENDPOINT,
    MODEL_STATISTICS,
    PREFIX,
    RUN,
    event_for,
    published,
)

# The bridge tests' fixtures (environment, cold-start loader, moto reports bucket).
env = base.env
load = base.load
reports = base.reports

_service_names = itertools.count()
VIOLATIONS_KEY = f"{PREFIX}data-quality/{RUN}/constraint_violations.json"
DATA_STATISTICS_KEY = f"{PREFIX}data-quality/{RUN}/statistics.json"
QUALITY_KEY = f"{PREFIX}model-quality/{ENDPOINT}/{ENDPOINT}-quality/2026/06/02/17/statistics.json"


def _drift(description: Any = "Baseline drift distance: 0.3 exceeds threshold: 0.1", **extra: Any) -> bytes:
    violation = {"feature_name": "mean_radius", "constraint_check_type": "baseline_drift_check"}
    violation["description"] = description
    violation.update(extra)
    return json.dumps({"violations": [violation]}).encode()


def _quality(auc: Any = 0.97, accuracy: Any = 0.93, f1: Any = 0.91) -> bytes:
    body = json.loads(json.dumps(MODEL_STATISTICS))
    metrics = body["binary_classification_metrics"]
    metrics["auc"]["value"], metrics["accuracy"]["value"], metrics["f1"]["value"] = auc, accuracy, f1
    return json.dumps(body).encode()


HOSTILE = [
    # (case, key, body (None: no object), field named, problem)
    ("missing object", VIOLATIONS_KEY, None, "(object)", "the report object does not exist"),
    ("empty object", VIOLATIONS_KEY, b"", "(object)", "the report is empty"),
    ("whitespace only", DATA_STATISTICS_KEY, b" \n\t ", "(object)", "the report is empty"),
    ("not UTF-8", VIOLATIONS_KEY, b'{"violations": ["\xff"]}', "(object)", "byte 17 is not UTF-8"),
    ("not JSON", QUALITY_KEY, b"<html>", "(object)", "not JSON: line 1, column 1: Expecting value"),
    (
        "NaN literal",
        QUALITY_KEY,
        b'{"binary_classification_metrics": NaN}',
        "(object)",
        "not plain JSON: NaN is not a JSON number",
    ),
    ("deeply nested", VIOLATIONS_KEY, b"[" * 100_000 + b"]" * 100_000, "(object)", "not JSON: nested too deeply"),
    ("top level is a list", VIOLATIONS_KEY, b"[]", "(top level)", "expected an object, got list"),
    ("violations missing", VIOLATIONS_KEY, b"{}", "violations", "is missing"),
    ("violations not a list", VIOLATIONS_KEY, b'{"violations": {"a": 1}}', "violations", "expected a list, got dict"),
    ("violation not an object", VIOLATIONS_KEY, b'{"violations": [3]}', "violations[0]", "expected an object"),
    (
        "feature name missing",
        VIOLATIONS_KEY,
        b'{"violations": [{"constraint_check_type": "baseline_drift_check"}]}',
        "violations[0].feature_name",
        "is missing",
    ),
    (
        "feature name empty",
        VIOLATIONS_KEY,
        _drift(feature_name=""),
        "violations[0].feature_name",
        "'' is not a non-empty string",
    ),
    (
        "negative distance",
        VIOLATIONS_KEY,
        _drift("Baseline drift distance: -0.4 exceeds threshold: 0.1"),
        "violations[0].description (distance)",
        "-0.4 is out of range; allowed: >= 0, finite",
    ),
    (
        "infinite distance",
        VIOLATIONS_KEY,
        _drift("Baseline drift distance: inf exceeds threshold: 0.1"),
        "violations[0].description (distance)",
        "inf is out of range",
    ),
    (
        "distance that is not a number",
        VIOLATIONS_KEY,
        _drift("Baseline drift distance: - exceeds threshold"),
        "violations[0].description",
        "distance '-' is not a number",
    ),
    ("description not a string", VIOLATIONS_KEY, _drift(7), "violations[0].description", "7 is not a string"),
    (
        "check type missing",
        VIOLATIONS_KEY,
        b'{"violations": [{"feature_name": "mean_radius"}]}',
        "violations[0].constraint_check_type",
        "is missing",
    ),
    (
        "check type empty",
        VIOLATIONS_KEY,
        b'{"violations": [{"feature_name": "mean_radius", "constraint_check_type": ""}]}',
        "violations[0].constraint_check_type",
        "'' is not a non-empty string",
    ),
    ("dataset missing", DATA_STATISTICS_KEY, b'{"version": 0.0}', "dataset", "is missing"),
    (
        "item count is a boolean",
        DATA_STATISTICS_KEY,
        b'{"dataset": {"item_count": true}}',
        "dataset.item_count",
        "True is not a number",
    ),
    (
        "item count negative",
        DATA_STATISTICS_KEY,
        b'{"dataset": {"item_count": -3}}',
        "dataset.item_count",
        "-3 is out of range",
    ),
    (
        "item count fractional",
        DATA_STATISTICS_KEY,
        b'{"dataset": {"item_count": 2.5}}',
        "dataset.item_count",
        "2.5 is not a whole number",
    ),
    (
        "item count overflows to infinity",
        DATA_STATISTICS_KEY,
        b'{"dataset": {"item_count": 1e999}}',
        "dataset.item_count",
        "inf is out of range",
    ),
    ("AUC above 1", QUALITY_KEY, _quality(auc=1.2), "binary_classification_metrics.auc.value", "1.2 is out of range"),
    (
        "AUC below 0",
        QUALITY_KEY,
        _quality(auc=-0.1),
        "binary_classification_metrics.auc.value",
        "-0.1 is out of range; allowed: [0, 1]",
    ),
    (
        "accuracy is a boolean",
        QUALITY_KEY,
        _quality(accuracy=True),
        "binary_classification_metrics.accuracy.value",
        "True is not a number",
    ),
    (
        "F1 is a string",
        QUALITY_KEY,
        _quality(f1="0.9"),
        "binary_classification_metrics.f1.value",
        "'0.9' is not a number",
    ),
    (
        "metrics section missing",
        QUALITY_KEY,
        b'{"dataset": {"item_count": 3}}',
        "(top level)",
        "expected exactly one of binary_classification_metrics, multiclass_classification_metrics, "
        "regression_metrics, found []",
    ),
    (
        "two metrics sections",
        QUALITY_KEY,
        json.dumps({"regression_metrics": {}, "binary_classification_metrics": {}}).encode(),
        "(top level)",
        "expected exactly one of binary_classification_metrics, multiclass_classification_metrics, "
        "regression_metrics, found ['binary_classification_metrics', 'regression_metrics']",
    ),
    (
        "R2 above 1",
        QUALITY_KEY,
        json.dumps({"regression_metrics": {"rmse": {"value": 1}, "mae": {"value": 1}, "r2": {"value": 1.5}}}).encode(),
        "regression_metrics.r2.value",
        "1.5 is out of range; allowed: [-inf, 1]",
    ),
    (
        "negative RMSE",
        QUALITY_KEY,
        json.dumps({"regression_metrics": {"rmse": {"value": -1}, "mae": {"value": 1}, "r2": {"value": 0.5}}}).encode(),
        "regression_metrics.rmse.value",
        "-1 is out of range; allowed: >= 0, finite",
    ),
    (
        "one metric missing",
        QUALITY_KEY,
        json.dumps({"binary_classification_metrics": {"auc": {"value": 0.9}, "accuracy": {"value": 0.9}}}).encode(),
        "binary_classification_metrics.f1",
        "is missing",
    ),
]


def _count_put_metric_data(handler: ModuleType) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    _, cloudwatch = handler.aws_clients()

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    cloudwatch.meta.events.register("provide-client-params.cloudwatch.PutMetricData", record)
    return calls


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_an_untrusted_report_raises_names_object_and_field_and_publishes_nothing(
    reports: Any,
    env: dict[str, str],
    load: Callable[[dict[str, str]], ModuleType],
    capsys: pytest.CaptureFixture[str],
    hostile: tuple[str, str, bytes | None, str, str],
) -> None:
    _, key, body, field, problem = hostile
    if body is not None:
        reports.put_object(Bucket=BUCKET, Key=key, Body=body)
    # Powertools keeps one logger per service name: a fresh name binds this test's captured stdout.
    env["POWERTOOLS_SERVICE_NAME"] = f"monitor-bridge-hostile-{next(_service_names)}"
    handler = load(env)
    calls = _count_put_metric_data(handler)
    start = time.monotonic()
    with pytest.raises(ValueError) as caught:
        handler.lambda_handler(event_for(key), FakeLambdaContext())
    assert time.monotonic() - start < 5
    error = caught.value
    assert type(error).__name__ == "ReportRejectedError", repr(error)
    assert (error.bucket, error.key, error.field) == (BUCKET, key, field)  # type: ignore[attr-defined]
    assert str(error).startswith(f"s3://{BUCKET}/{key}: {field}: {problem}"), str(error)
    assert calls == []
    assert published() == {}
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    errors = [entry for entry in logged if entry["level"] == "ERROR"]
    assert [(e["message"], e["bucket"], e["key"], e["field"]) for e in errors] == [
        ("report rejected, nothing published", BUCKET, key, field)
    ]


def test_one_bad_violation_among_good_ones_publishes_nothing(
    reports: Any,
    env: dict[str, str],
    load: Callable[[dict[str, str]], ModuleType],
) -> None:
    document = json.loads(json.dumps(DATA_VIOLATIONS))
    document["violations"].append(
        {"feature_name": "worst_area", "constraint_check_type": "baseline_drift_check", "description": "distance: -1"}
    )
    reports.put_object(Bucket=BUCKET, Key=VIOLATIONS_KEY, Body=json.dumps(document).encode())
    handler = load(env)
    calls = _count_put_metric_data(handler)
    with pytest.raises(ValueError, match=r"violations\[3\]\.description \(distance\): -1\.0 is out of range"):
        handler.lambda_handler(event_for(VIOLATIONS_KEY), FakeLambdaContext())
    assert calls == []
    assert published() == {}


def test_a_trusted_report_still_publishes_through_one_call(
    reports: Any,
    env: dict[str, str],
    load: Callable[[dict[str, str]], ModuleType],
) -> None:
    """The positive control of the counter above: a good report is exactly one PutMetricData call."""
    reports.put_object(Bucket=BUCKET, Key=QUALITY_KEY, Body=_quality(auc=1, accuracy=0, f1=0.5))
    handler = load(env)
    calls = _count_put_metric_data(handler)
    assert handler.lambda_handler(event_for(QUALITY_KEY), FakeLambdaContext())["data_points"] == 3
    assert [[(d["MetricName"], d["Value"]) for d in call["MetricData"]] for call in calls] == [
        [("ModelAUC", 1.0), ("ModelAccuracy", 0.0), ("ModelF1", 0.5)]
    ]


def test_a_utf8_byte_order_mark_is_read(
    reports: Any,
    env: dict[str, str],
    load: Callable[[dict[str, str]], ModuleType],
) -> None:
    reports.put_object(Bucket=BUCKET, Key=DATA_STATISTICS_KEY, Body=b'\xef\xbb\xbf{"dataset": {"item_count": 7}}')
    assert load(env).lambda_handler(event_for(DATA_STATISTICS_KEY), FakeLambdaContext())["data_points"] == 1


def test_a_drift_violation_without_a_description_counts_without_a_score(
    reports: Any,
    env: dict[str, str],
    load: Callable[[dict[str, str]], ModuleType],
) -> None:
    """``description`` is optional: the feature drifted, but no distance is published for it."""
    reports.put_object(Bucket=BUCKET, Key=VIOLATIONS_KEY, Body=_drift_without_description())
    handler = load(env)
    result = handler.lambda_handler(event_for(VIOLATIONS_KEY), FakeLambdaContext())
    assert result == {"status": "published", "kind": "data-quality", "data_points": 4}
    dims = (("Model", "breast-cancer"), ("Environment", "prod"), ("Endpoint", ENDPOINT))
    assert published() == {
        (contract.DRIFTED_FEATURES, dims): [1.0],
        (contract.FEATURE_DRIFT, (*dims, ("Feature", "mean_radius"))): [1.0],
        (contract.FEATURE_DRIFT, (*dims, ("Feature", "mean_texture"))): [0.0],
        (contract.FEATURE_DRIFT, (*dims, ("Feature", "worst_area"))): [0.0],
    }


def _drift_without_description() -> bytes:
    violation = {"feature_name": "mean_radius", "constraint_check_type": "baseline_drift_check"}
    return json.dumps({"violations": [violation]}).encode()
