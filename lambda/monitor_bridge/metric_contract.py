"""The metric contract: the CloudWatch metrics both monitoring backends publish, and nothing else reads.

Dependency-free on purpose: the same file runs in the drift processing job, in the metric-publishing job and
(as an identical copy, checked by a test) in the Model Monitor bridge Lambda; the CDK side
(``mlops_constructs.metric_contract``) imports these names to build alarms and dashboards. Change a name here
and every publisher, alarm and dashboard follows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

NAMESPACE = "MLOps/ModelMonitoring"

# Dimension names.
MODEL = "Model"
ENVIRONMENT = "Environment"
ENDPOINT = "Endpoint"
FEATURE = "Feature"
MODEL_DIMENSIONS: tuple[str, ...] = (MODEL, ENVIRONMENT, ENDPOINT)
FEATURE_DIMENSIONS: tuple[str, ...] = (*MODEL_DIMENSIONS, FEATURE)

# Metric names -> (dimension names, CloudWatch unit, meaning).
DRIFTED_FEATURES = "DriftedFeatures"
FEATURE_DRIFT = "FeatureDrift"
FEATURE_DRIFT_SCORE = "FeatureDriftScore"
CAPTURED_RECORDS = "CapturedRecords"
MODEL_AUC = "ModelAUC"
MODEL_ACCURACY = "ModelAccuracy"
MODEL_F1 = "ModelF1"
MODEL_RMSE = "ModelRMSE"
MODEL_MAE = "ModelMAE"
MODEL_R2 = "ModelR2"
SHADOW_PREDICTION_DRIFT = "ShadowPredictionDrift"

METRICS: Mapping[str, tuple[tuple[str, ...], str, str]] = {
    DRIFTED_FEATURES: (MODEL_DIMENSIONS, "Count", "Features that drifted from the training baseline in this run."),
    FEATURE_DRIFT: (FEATURE_DIMENSIONS, "None", "1 if the feature drifted in this run, else 0."),
    FEATURE_DRIFT_SCORE: (
        FEATURE_DIMENSIONS,
        "None",
        "Size of the drift: PSI (open backend) or Model Monitor's baseline distance (violations only).",
    ),
    CAPTURED_RECORDS: (MODEL_DIMENSIONS, "Count", "Captured inference records the run analysed."),
    MODEL_AUC: (MODEL_DIMENSIONS, "None", "ROC AUC of predictions against ground truth."),
    MODEL_ACCURACY: (MODEL_DIMENSIONS, "None", "Accuracy of predictions against ground truth."),
    MODEL_F1: (
        MODEL_DIMENSIONS,
        "None",
        "F1 score of predictions against ground truth (multiclass: macro-averaged over the classes).",
    ),
    MODEL_RMSE: (MODEL_DIMENSIONS, "None", "Root mean squared error of predictions (regression; target's unit)."),
    MODEL_MAE: (MODEL_DIMENSIONS, "None", "Mean absolute error of predictions (regression; target's unit)."),
    MODEL_R2: (MODEL_DIMENSIONS, "None", "Coefficient of determination R2 of predictions (regression)."),
    SHADOW_PREDICTION_DRIFT: (
        MODEL_DIMENSIONS,
        "None",
        "PSI of the shadow variant's predictions against production's over the same window (open backend).",
    ),
}

# The contract metric carrying each quality metric of the configuration (mlops_config.model_kind.METRICS).
QUALITY_METRICS: Mapping[str, str] = {
    "auc": MODEL_AUC,
    "accuracy": MODEL_ACCURACY,
    "f1": MODEL_F1,
    "rmse": MODEL_RMSE,
    "mae": MODEL_MAE,
    "r2": MODEL_R2,
}

# PutMetricData accepts at most this many data points per call.
MAX_DATA_PER_CALL = 1000


class MetricsClient(Protocol):
    """The one method of a boto3 CloudWatch client the publishers use."""

    def put_metric_data(self, **kwargs: Any) -> Any:
        """PutMetricData."""
        ...


def datum(
    metric_name: str,
    value: float,
    *,
    model: str,
    environment: str,
    endpoint: str,
    feature: str | None = None,
) -> dict[str, Any]:
    """One PutMetricData ``MetricData`` entry of the contract; raises ``ValueError`` off the contract."""
    if metric_name not in METRICS:
        raise ValueError(f"{metric_name!r} is not a contract metric; allowed: {', '.join(sorted(METRICS))}")
    dimension_names, unit, _ = METRICS[metric_name]
    values = {MODEL: model, ENVIRONMENT: environment, ENDPOINT: endpoint, FEATURE: feature}
    if (feature is not None) != (FEATURE in dimension_names):
        raise ValueError(f"{metric_name} {'needs' if FEATURE in dimension_names else 'takes no'} feature")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{metric_name}: value {value!r} is not a finite number")
    return {
        "MetricName": metric_name,
        "Dimensions": [{"Name": name, "Value": str(values[name])} for name in dimension_names],
        "Value": number,
        "Unit": unit,
    }


def validate_data(data: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Check entries read from a metrics file against the contract; return them as fresh dicts."""
    checked: list[dict[str, Any]] = []
    for index, entry in enumerate(data):
        name = entry.get("MetricName")
        if name not in METRICS:
            raise ValueError(f"metrics[{index}]: {name!r} is not a contract metric")
        dimension_names, unit, _ = METRICS[str(name)]
        dimensions = entry.get("Dimensions", [])
        found = tuple(str(item.get("Name")) for item in dimensions)
        if found != dimension_names:
            raise ValueError(f"metrics[{index}] {name}: dimensions {list(found)}, expected {list(dimension_names)}")
        value = entry.get("Value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"metrics[{index}] {name}: value {value!r} is not a finite number")
        checked.append(
            {
                "MetricName": name,
                "Dimensions": [{"Name": str(d["Name"]), "Value": str(d["Value"])} for d in dimensions],
                "Value": float(value),
                "Unit": unit,
            }
        )
    return checked


def put_metric_data(client: MetricsClient, data: Sequence[Mapping[str, Any]]) -> int:
    """Publish ``data`` to the contract namespace in as few calls as allowed; return how many were sent."""
    entries = validate_data(data)
    for start in range(0, len(entries), MAX_DATA_PER_CALL):
        client.put_metric_data(Namespace=NAMESPACE, MetricData=entries[start : start + MAX_DATA_PER_CALL])
    return len(entries)
