"""Monitor bridge: ``translate`` exact (every data point, in order, with its dimensions; each structural refusal).

Written against the survivors of ``make mutate-lambda FN=monitor_bridge MUTATE='bridge.x_translate*'`` (README,
"Development"): the handler tests read back what moto's CloudWatch aggregated; here the data points ``translate``
returns are compared whole, including a drifted feature the function was not configured for, a drift without a
readable distance, the ranges' ends, and the report shapes (a section, an entry or the dataset that is not an object,
a missing value) that refuse the whole report.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.lambda_.test_monitor_bridge import BRIDGE_ENV, BUCKET, ENDPOINT, FEATURES, PREFIX, RUN

IDS = ("breast-cancer", "prod", ENDPOINT)


@pytest.fixture
def settings(bridge: ModuleType) -> Any:
    return bridge.BridgeSettings.from_env(BRIDGE_ENV)


def _report(bridge: ModuleType, kind: str, file_name: str) -> Any:
    return bridge.ReportObject(bucket=BUCKET, key=f"{PREFIX}{kind}/{RUN}/{file_name}", kind=kind, file_name=file_name)


def _points(data: list[dict[str, Any]]) -> list[tuple[str, tuple[tuple[str, str], ...], float, str]]:
    return [
        (d["MetricName"], tuple((x["Name"], x["Value"]) for x in d["Dimensions"]), d["Value"], d["Unit"]) for d in data
    ]


def _dims(feature: str | None = None) -> tuple[tuple[str, str], ...]:
    dims = (("Model", IDS[0]), ("Environment", IDS[1]), ("Endpoint", IDS[2]))
    return (*dims, ("Feature", feature)) if feature else dims


def _drift(feature: str, description: str | None = None, check: str = "baseline_drift_check") -> dict[str, Any]:
    violation = {"feature_name": feature, "constraint_check_type": check}
    if description is not None:
        violation["description"] = description
    return violation


def test_drift_violations_become_one_point_per_configured_feature_and_one_count(
    bridge: ModuleType, settings: Any
) -> None:
    document = {
        "violations": [
            _drift("mean_radius", "Baseline drift distance: 0.41 exceeds threshold: 0.1"),
            _drift("mean_texture", "Data type match requirement is not met.", check="data_type_check"),
            _drift("worst_area", "drift without a number"),
            # Drifted, but not a feature this function publishes for: counted, no point of its own.
            _drift("unconfigured", "Baseline drift distance: 0 exceeds threshold: 0"),
        ]
    }

    data = bridge.translate(_report(bridge, "data-quality", "constraint_violations.json"), document, settings)

    assert _points(data) == [
        ("DriftedFeatures", _dims(), 3.0, "Count"),
        ("FeatureDrift", _dims("mean_radius"), 1.0, "None"),
        ("FeatureDriftScore", _dims("mean_radius"), 0.41, "None"),
        ("FeatureDrift", _dims("mean_texture"), 0.0, "None"),
        ("FeatureDrift", _dims("worst_area"), 1.0, "None"),
    ]


def test_no_violations_publish_zeros(bridge: ModuleType, settings: Any) -> None:
    data = bridge.translate(_report(bridge, "data-quality", "constraint_violations.json"), {"violations": []}, settings)

    assert _points(data) == [
        ("DriftedFeatures", _dims(), 0.0, "Count"),
        *[("FeatureDrift", _dims(feature), 0.0, "None") for feature in FEATURES],
    ]


@pytest.mark.parametrize("count", [0, 412, 5.0])
def test_data_statistics_publish_the_analysed_records(bridge: ModuleType, settings: Any, count: float) -> None:
    document = {"dataset": {"item_count": count}}

    data = bridge.translate(_report(bridge, "data-quality", "statistics.json"), document, settings)

    assert _points(data) == [("CapturedRecords", _dims(), float(count), "Count")]


@pytest.mark.parametrize(
    ("section", "values", "expected"),
    [
        (
            "binary_classification_metrics",
            {"auc": 1, "accuracy": 0, "f1": 0.5},
            [("ModelAUC", 1.0), ("ModelAccuracy", 0.0), ("ModelF1", 0.5)],
        ),
        ("multiclass_classification_metrics", {"accuracy": 1.0, "weighted_f1": 0.2}, [("ModelAccuracy", 1.0)]),
        (
            "regression_metrics",
            {"rmse": 0, "mae": 1e9, "r2": -1e9},
            [("ModelRMSE", 0.0), ("ModelMAE", 1e9), ("ModelR2", -1e9)],
        ),
    ],
    ids=["binary", "multiclass", "regression"],
)
def test_model_quality_publishes_its_sections_metrics_at_the_ranges_ends(
    bridge: ModuleType, settings: Any, section: str, values: dict[str, float], expected: list[tuple[str, float]]
) -> None:
    document = {"version": 0.0, section: {name: {"value": value} for name, value in values.items()}}

    data = bridge.translate(_report(bridge, "model-quality", "statistics.json"), document, settings)

    assert [(name, dims, value) for name, dims, value, _ in _points(data)] == [
        (name, _dims(), value) for name, value in expected
    ]


@pytest.mark.parametrize(
    ("kind", "file_name"),
    [
        ("bias", "constraint_violations.json"),
        ("explainability", "statistics.json"),
        ("data-quality", "constraints.json"),
        ("model-quality", "constraint_violations.json"),
    ],
)
def test_files_the_contract_ignores_publish_nothing_whatever_they_hold(
    bridge: ModuleType, settings: Any, kind: str, file_name: str
) -> None:
    assert bridge.translate(_report(bridge, kind, file_name), {"anything": [1]}, settings) == []


def test_reports_of_other_kinds_are_not_even_read_as_objects(bridge: ModuleType, settings: Any) -> None:
    assert bridge.translate(_report(bridge, "bias", "statistics.json"), ["not", "an", "object"], settings) == []


QUALITY = "model-quality"
DATA = "data-quality"


@pytest.mark.parametrize(
    ("kind", "file_name", "document", "field", "problem"),
    [
        (DATA, "statistics.json", "text", "(top level)", "expected an object, got str"),
        (DATA, "statistics.json", {"dataset": [1]}, "dataset", "expected an object, got list"),
        (DATA, "statistics.json", {"dataset": {}}, "dataset.item_count", "is missing"),
        (DATA, "statistics.json", {"dataset": {"item_count": 2.5}}, "dataset.item_count", "2.5 is not a whole number"),
        (
            QUALITY,
            "statistics.json",
            {"binary_classification_metrics": [0.9]},
            "binary_classification_metrics",
            "expected an object, got list",
        ),
        (
            QUALITY,
            "statistics.json",
            {"regression_metrics": {"rmse": 1.0}},
            "regression_metrics.rmse",
            "expected an object, got float",
        ),
        (
            QUALITY,
            "statistics.json",
            {"multiclass_classification_metrics": {"accuracy": {"standard_deviation": 0.1}}},
            "multiclass_classification_metrics.accuracy.value",
            "is missing",
        ),
        (
            QUALITY,
            "statistics.json",
            {"multiclass_classification_metrics": {"accuracy": {"value": 1.01}}},
            "multiclass_classification_metrics.accuracy.value",
            "1.01 is out of range; allowed: [0, 1]",
        ),
        (
            QUALITY,
            "statistics.json",
            {"regression_metrics": {"rmse": {"value": 1}, "mae": {"value": -0.5}, "r2": {"value": 0}}},
            "regression_metrics.mae.value",
            "-0.5 is out of range; allowed: >= 0, finite",
        ),
        (
            QUALITY,
            "statistics.json",
            {"multiclass_classification_metrics": {}, "regression_metrics": {}},
            "(top level)",
            "expected exactly one of binary_classification_metrics, multiclass_classification_metrics, "
            "regression_metrics, found ['multiclass_classification_metrics', 'regression_metrics']",
        ),
        (DATA, "constraint_violations.json", {"violations": "none"}, "violations", "expected a list, got str"),
        (
            DATA,
            "constraint_violations.json",
            {"violations": [_drift("mean_radius"), _drift("", "x")]},
            "violations[1].feature_name",
            "'' is not a non-empty string",
        ),
        (
            DATA,
            "constraint_violations.json",
            {"violations": [_drift("mean_radius", "distance: 1e999")]},
            "violations[0].description (distance)",
            "inf is out of range; allowed: >= 0, finite",
        ),
    ],
    ids=[
        "top-level-text",
        "dataset-list",
        "no-item-count",
        "fractional-count",
        "section-list",
        "entry-number",
        "no-value",
        "accuracy-over-1",
        "negative-mae",
        "two-sections",
        "violations-text",
        "second-violation-nameless",
        "infinite-distance",
    ],
)
def test_a_report_of_the_wrong_shape_is_refused_whole(  # noqa: PLR0917 (one parameter per table column)
    bridge: ModuleType, settings: Any, kind: str, file_name: str, document: Any, field: str, problem: str
) -> None:
    report = _report(bridge, kind, file_name)

    with pytest.raises(bridge.ReportRejectedError) as caught:
        bridge.translate(report, document, settings)

    assert (caught.value.field, caught.value.problem) == (field, problem)
    assert str(caught.value) == f"s3://{BUCKET}/{report.key}: {field}: {problem}"
