"""Translate Model Monitor's output files into the metric contract (plain logic; the handler is thin).

Model Monitor writes ``constraint_violations.json`` and ``statistics.json`` under
``<report prefix><kind>/<endpoint>/<schedule>/yyyy/mm/dd/hh/``; the kind (``data-quality``, ``model-quality``,
``bias``, ``explainability``) is the first path segment after the prefix, because the schedules' output URIs
are set that way. Model Monitor's own metrics (``aws/sagemaker/Endpoints/*``) are not the contract: alarms and
dashboards read only what this module publishes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import metric_contract as contract

DRIFT_CHECK = "baseline_drift_check"
_DISTANCE = re.compile(r"distance:\s*([0-9.eE+-]+)")


class BridgeConfigError(ValueError):
    """The function's environment is incomplete or malformed."""


class EventRejectedError(ValueError):
    """The event is not one this function translates (wrong source, bucket or object)."""


class ObjectReader(Protocol):
    """What the bridge needs from an S3 client."""

    def get_object(self, **kwargs: Any) -> Any:
        """GetObject."""
        ...


@dataclass(frozen=True)
class BridgeSettings:
    """Which model, environment and endpoint this function publishes for, and where their reports are."""

    model: str
    environment: str
    endpoint: str
    bucket: str
    report_prefix: str
    features: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BridgeSettings:
        """Read and check the settings the CDK construct sets; fail with every problem named."""
        names = ("MODEL_NAME", "ENVIRONMENT_NAME", "ENDPOINT_NAME", "REPORT_BUCKET", "REPORT_PREFIX", "FEATURES")
        missing = [name for name in names if not env.get(name)]
        if missing:
            raise BridgeConfigError(f"missing environment variables: {', '.join(missing)}")
        try:
            features = json.loads(env["FEATURES"])
        except ValueError:
            features = None
        if not isinstance(features, list) or not all(isinstance(item, str) and item for item in features):
            raise BridgeConfigError("FEATURES must be a JSON list of feature names")
        prefix = env["REPORT_PREFIX"]
        if not prefix.endswith("/"):
            raise BridgeConfigError(f"REPORT_PREFIX={prefix!r} must end with '/'")
        return cls(
            model=env["MODEL_NAME"],
            environment=env["ENVIRONMENT_NAME"],
            endpoint=env["ENDPOINT_NAME"],
            bucket=env["REPORT_BUCKET"],
            report_prefix=prefix,
            features=tuple(features),
        )


@dataclass(frozen=True)
class ReportObject:
    """A Model Monitor output file of this model's schedules."""

    bucket: str
    key: str
    kind: str
    file_name: str


def parse_event(event: Any, settings: BridgeSettings) -> ReportObject:
    """The report object an EventBridge "Object Created" event names, or ``EventRejectedError``."""
    if (
        not isinstance(event, Mapping)
        or event.get("source") != "aws.s3"
        or event.get("detail-type") != "Object Created"
    ):
        raise EventRejectedError("not an S3 Object Created event")
    detail = event.get("detail")
    try:
        bucket = str(detail["bucket"]["name"])  # type: ignore[index]
        key = str(detail["object"]["key"])  # type: ignore[index]
    except (KeyError, TypeError):
        raise EventRejectedError("event detail has no bucket.name and object.key") from None
    if bucket != settings.bucket or not key.startswith(settings.report_prefix):
        raise EventRejectedError(f"s3://{bucket}/{key} is not under s3://{settings.bucket}/{settings.report_prefix}")
    relative = key[len(settings.report_prefix) :].split("/")
    file_name = relative[-1]
    if len(relative) < 2 or file_name not in ("constraint_violations.json", "statistics.json"):
        raise EventRejectedError(f"{key} is not a Model Monitor report file")
    return ReportObject(bucket=bucket, key=key, kind=relative[0], file_name=file_name)


def read_json(s3: ObjectReader, report: ReportObject) -> Any:
    """The report's JSON body."""
    body = s3.get_object(Bucket=report.bucket, Key=report.key)["Body"].read()
    return json.loads(body)


def translate(report: ReportObject, document: Mapping[str, Any], settings: BridgeSettings) -> list[dict[str, Any]]:
    """The contract data points one Model Monitor file stands for (empty for files the contract ignores)."""
    ids = {"model": settings.model, "environment": settings.environment, "endpoint": settings.endpoint}
    if report.kind == "data-quality" and report.file_name == "constraint_violations.json":
        drifted: dict[str, float | None] = {}
        for violation in document.get("violations", []):
            if violation.get("constraint_check_type") != DRIFT_CHECK:
                continue
            name = str(violation.get("feature_name", ""))
            match = _DISTANCE.search(str(violation.get("description", "")))
            drifted[name] = float(match.group(1)) if match else None
        data = [contract.datum(contract.DRIFTED_FEATURES, len(drifted), **ids)]
        for feature in settings.features:
            data.append(contract.datum(contract.FEATURE_DRIFT, 1 if feature in drifted else 0, feature=feature, **ids))
            score = drifted.get(feature)
            if score is not None:
                data.append(contract.datum(contract.FEATURE_DRIFT_SCORE, score, feature=feature, **ids))
        return data
    if report.kind == "data-quality" and report.file_name == "statistics.json":
        count = document.get("dataset", {}).get("item_count")
        return [contract.datum(contract.CAPTURED_RECORDS, count, **ids)] if isinstance(count, int | float) else []
    if report.kind == "model-quality" and report.file_name == "statistics.json":
        found = document.get("binary_classification_metrics", {})
        data = []
        for source, metric in (
            ("auc", contract.MODEL_AUC),
            ("accuracy", contract.MODEL_ACCURACY),
            ("f1", contract.MODEL_F1),
        ):
            value = found.get(source, {}).get("value") if isinstance(found.get(source), Mapping) else None
            if isinstance(value, int | float):
                data.append(contract.datum(metric, value, **ids))
        return data
    return []


def publish(cloudwatch: contract.MetricsClient, data: Sequence[Mapping[str, Any]]) -> int:
    """Send ``data`` to the contract namespace; return how many data points went."""
    return int(contract.put_metric_data(cloudwatch, data)) if data else 0
