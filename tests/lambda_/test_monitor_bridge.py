"""The Model Monitor bridge: real-shaped S3 "Object Created" events, moto S3 and CloudWatch, the metric contract."""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from pipeline_defs.steps import metric_contract as contract
from tests.lambda_.conftest import FakeLambdaContext

BRIDGE_DIR = Path(__file__).resolve().parents[2] / "lambda" / "monitor_bridge"
REGION = "eu-west-1"
BUCKET = "mlops-prod-reports-333333333333-eu-west-1"
PREFIX = "breast-cancer/model-monitor/"
ENDPOINT = "mlops-prod-breast-cancer"
FEATURES = ["mean_radius", "mean_texture", "worst_area"]
_loads = itertools.count()

# As S3 sends it to EventBridge (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
OBJECT_CREATED: dict[str, Any] = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "333333333333",
    "time": "2026-06-02T17:05:13Z",
    "region": REGION,
    "resources": [f"arn:aws:s3:::{BUCKET}"],
    "detail": {
        "version": "0",
        "bucket": {"name": BUCKET},
        "object": {
            "key": "",
            "size": 512,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "00617F08299329D189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}
RUN = f"{ENDPOINT}/{ENDPOINT}-data/2026/06/02/17"

DATA_VIOLATIONS = {
    "violations": [
        {
            "feature_name": "mean_radius",
            "constraint_check_type": "baseline_drift_check",
            "description": "Baseline drift distance: 0.4132 exceeds threshold: 0.1",
        },
        {
            "feature_name": "worst_area",
            "constraint_check_type": "baseline_drift_check",
            "description": "Baseline drift distance: 0.2 exceeds threshold: 0.1",
        },
        {
            "feature_name": "mean_texture",
            "constraint_check_type": "data_type_check",
            "description": "Data type match requirement is not met.",
        },
    ]
}
MODEL_STATISTICS = {
    "version": 0.0,
    "dataset": {"item_count": 230, "evaluation_time": "2026-06-02T17:00:00.000Z"},
    "binary_classification_metrics": {
        "accuracy": {"value": 0.93, "standard_deviation": 0.01},
        "f1": {"value": 0.91, "standard_deviation": 0.01},
        "auc": {"value": 0.97, "standard_deviation": 0.004},
        "recall": {"value": 0.9, "standard_deviation": 0.01},
    },
}


# The settings MonitorBridgeFunction's environment carries (BridgeSettings.from_env reads these).
BRIDGE_ENV = {
    "MODEL_NAME": "breast-cancer",
    "ENVIRONMENT_NAME": "prod",
    "ENDPOINT_NAME": ENDPOINT,
    "REPORT_BUCKET": BUCKET,
    "REPORT_PREFIX": PREFIX,
    "FEATURES": json.dumps(FEATURES),
}


@pytest.fixture
def env() -> dict[str, str]:
    """The environment MonitorBridgeFunction sets."""
    return {**BRIDGE_ENV, "POWERTOOLS_SERVICE_NAME": "monitor-bridge-test"}


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], ModuleType]:
    """Load ``handler.py`` by path, as a cold start with ``env`` would."""
    monkeypatch.syspath_prepend(str(BRIDGE_DIR))

    def loader(values: dict[str, str]) -> ModuleType:
        for name in ("MODEL_NAME", "ENVIRONMENT_NAME", "ENDPOINT_NAME", "REPORT_BUCKET", "REPORT_PREFIX", "FEATURES"):
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        for name in ("bridge", "metric_contract"):
            monkeypatch.delitem(sys.modules, name, raising=False)
        spec = importlib.util.spec_from_file_location(
            f"monitor_bridge_handler_{next(_loads)}", BRIDGE_DIR / "handler.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return loader


@pytest.fixture
def reports(moto_aws: None) -> Any:
    """The monitoring bucket in moto; returns an S3 client."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


def event_for(key: str) -> dict[str, Any]:
    """The Object Created event of ``key`` in the reports bucket."""
    event = copy.deepcopy(OBJECT_CREATED)
    event["detail"]["object"]["key"] = key
    return event


def published() -> dict[tuple[str, tuple[tuple[str, str], ...]], list[float]]:
    """What moto's CloudWatch holds in the contract namespace: (metric, dimensions) -> values."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    found: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}
    for metric in cloudwatch.list_metrics(Namespace=contract.NAMESPACE)["Metrics"]:
        dimensions = tuple((d["Name"], d["Value"]) for d in metric["Dimensions"])
        stats = cloudwatch.get_metric_statistics(
            Namespace=contract.NAMESPACE,
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime="2000-01-01T00:00:00Z",
            EndTime="2100-01-01T00:00:00Z",
            Period=86400,
            Statistics=["Maximum"],
        )
        found[(metric["MetricName"], dimensions)] = [point["Maximum"] for point in stats["Datapoints"]]
    return found


MODEL_DIMS = (("Model", "breast-cancer"), ("Environment", "prod"), ("Endpoint", ENDPOINT))


def test_data_quality_violations_become_drift_metrics(
    reports: Any, env: dict[str, str], load: Callable[[dict[str, str]], ModuleType]
) -> None:
    key = f"{PREFIX}data-quality/{RUN}/constraint_violations.json"
    reports.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(DATA_VIOLATIONS).encode())
    handler = load(env)
    result = handler.lambda_handler(event_for(key), FakeLambdaContext())
    assert result == {"status": "published", "kind": "data-quality", "data_points": 6}
    metrics = published()
    assert metrics[(contract.DRIFTED_FEATURES, MODEL_DIMS)] == [2.0]
    for feature, drifted in (("mean_radius", 1.0), ("mean_texture", 0.0), ("worst_area", 1.0)):
        assert metrics[(contract.FEATURE_DRIFT, (*MODEL_DIMS, ("Feature", feature)))] == [drifted]
    assert metrics[(contract.FEATURE_DRIFT_SCORE, (*MODEL_DIMS, ("Feature", "mean_radius")))] == [0.4132]
    assert (contract.FEATURE_DRIFT_SCORE, (*MODEL_DIMS, ("Feature", "mean_texture"))) not in metrics


def test_model_quality_statistics_become_quality_metrics(
    reports: Any, env: dict[str, str], load: Callable[[dict[str, str]], ModuleType]
) -> None:
    key = f"{PREFIX}model-quality/{ENDPOINT}/{ENDPOINT}-quality/2026/06/02/17/statistics.json"
    reports.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(MODEL_STATISTICS).encode())
    result = load(env).lambda_handler(event_for(key), FakeLambdaContext())
    assert result["data_points"] == 3
    metrics = published()
    assert metrics[(contract.MODEL_AUC, MODEL_DIMS)] == [0.97]
    assert metrics[(contract.MODEL_ACCURACY, MODEL_DIMS)] == [0.93]
    assert metrics[(contract.MODEL_F1, MODEL_DIMS)] == [0.91]


# The regression and multiclass sections as "Model quality metrics and Amazon CloudWatch monitoring" shows them.
REGRESSION_STATISTICS = {
    "version": 0.0,
    "dataset": {"item_count": 200},
    "regression_metrics": {
        "mae": {"value": 0.3711832061068702, "standard_deviation": 0.0037566388129940394},
        "mse": {"value": 0.3711832061068702, "standard_deviation": 0.0037566388129940524},
        "rmse": {"value": 0.609248066149471, "standard_deviation": 0.003079253267651125},
        "r2": {"value": -1.3766111872212665, "standard_deviation": 0.022653980022771227},
    },
}
MULTICLASS_STATISTICS = {
    "version": 0.0,
    "dataset": {"item_count": 200},
    "multiclass_classification_metrics": {
        "confusion_matrix": {"0": {"0": 90, "1": 10}, "1": {"0": 20, "1": 80}},
        "accuracy": {"value": 0.85, "standard_deviation": "NaN"},
        "weighted_f1": {"value": 0.849, "standard_deviation": "NaN"},
    },
}


@pytest.mark.parametrize(
    ("statistics", "expected"),
    [
        (
            REGRESSION_STATISTICS,
            {
                contract.MODEL_RMSE: [0.609248066149471],
                contract.MODEL_MAE: [0.3711832061068702],
                contract.MODEL_R2: [-1.3766111872212665],
            },
        ),
        # Weighted F1 is not the contract's macro F1: only accuracy goes out.
        (MULTICLASS_STATISTICS, {contract.MODEL_ACCURACY: [0.85]}),
    ],
    ids=["regression", "multiclass"],
)
def test_model_quality_of_each_problem_type_becomes_its_contract_metrics(
    reports: Any,
    env: dict[str, str],
    load: Callable[[dict[str, str]], ModuleType],
    statistics: dict[str, Any],
    expected: dict[str, list[float]],
) -> None:
    key = f"{PREFIX}model-quality/{ENDPOINT}/{ENDPOINT}-quality/2026/06/02/17/statistics.json"
    reports.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(statistics).encode())
    result = load(env).lambda_handler(event_for(key), FakeLambdaContext())
    assert result["data_points"] == len(expected)
    assert {name: values for (name, dims), values in published().items() if dims == MODEL_DIMS} == expected


def test_data_quality_statistics_report_the_analysed_records(
    reports: Any, env: dict[str, str], load: Callable[[dict[str, str]], ModuleType]
) -> None:
    key = f"{PREFIX}data-quality/{RUN}/statistics.json"
    body = {"version": 0.0, "dataset": {"item_count": 412}, "features": []}
    reports.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body).encode())
    load(env).lambda_handler(event_for(key), FakeLambdaContext())
    assert published() == {(contract.CAPTURED_RECORDS, MODEL_DIMS): [412.0]}


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.update({"source": "aws.sagemaker"}), "not an S3 Object Created"),
        (lambda e: e["detail"]["bucket"].update({"name": "someone-elses-bucket"}), "is not under"),
        (
            lambda e: e["detail"]["object"].update({"key": "other-model/model-monitor/x/statistics.json"}),
            "is not under",
        ),
        (lambda e: e["detail"]["object"].update({"key": f"{PREFIX}data-quality/{RUN}/analysis.json"}), "not a Model"),
        (lambda e: e.pop("detail"), "not the shape of an S3 Object Created event: detail: Field required"),
        (
            lambda e: e["detail"].pop("bucket"),
            "not the shape of an S3 Object Created event: detail.bucket: Field required",
        ),
        (
            lambda e: e["detail"]["object"].update({"key": 7}),
            "not the shape of an S3 Object Created event: detail.object.key: Input should be a valid string",
        ),
        (lambda e: e.update({"time": "yesterday"}), "not the shape of an S3 Object Created event: time: Input should"),
        (lambda e: e.update({"detail-type": "Object Deleted"}), "not an S3 Object Created"),
    ],
)
def test_other_events_are_ignored_without_touching_aws(
    moto_aws: None,
    env: dict[str, str],
    load: Callable[[dict[str, str]], ModuleType],
    mutate: Callable[[dict[str, Any]], Any],
    reason: str,
) -> None:
    event = event_for(f"{PREFIX}data-quality/{RUN}/statistics.json")
    mutate(event)
    result = load(env).lambda_handler(event, FakeLambdaContext())
    assert result["status"] == "ignored"
    assert reason in result["reason"]
    assert published() == {}


def test_bias_and_explainability_reports_publish_nothing(
    reports: Any, env: dict[str, str], load: Callable[[dict[str, str]], ModuleType]
) -> None:
    key = f"{PREFIX}bias/{ENDPOINT}/{ENDPOINT}-bias/2026/06/02/17/constraint_violations.json"
    reports.put_object(Bucket=BUCKET, Key=key, Body=b'{"violations": []}')
    assert load(env).lambda_handler(event_for(key), FakeLambdaContext())["data_points"] == 0
    assert published() == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"FEATURES": "mean_radius"}, "FEATURES must be a JSON list"),
        ({"REPORT_PREFIX": "breast-cancer/model-monitor"}, "must end with '/'"),
        ({"ENDPOINT_NAME": ""}, "ENDPOINT_NAME"),
    ],
)
def test_a_bad_environment_fails_the_cold_start(
    env: dict[str, str], load: Callable[[dict[str, str]], ModuleType], change: dict[str, str], message: str
) -> None:
    env.update(change)
    with pytest.raises(ValueError, match=message):
        load(env)
