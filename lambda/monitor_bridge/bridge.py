"""Translate Model Monitor's output files into the metric contract (plain logic; the handler is thin).

Model Monitor writes ``constraint_violations.json`` and ``statistics.json`` under
``<report prefix><kind>/<endpoint>/<schedule>/yyyy/mm/dd/hh/``; the kind (``data-quality``, ``model-quality``,
``bias``, ``explainability``) is the first path segment after the prefix, because the schedules' output URIs
are set that way. Model Monitor's own metrics (``aws/sagemaker/Endpoints/*``) are not the contract: alarms and
dashboards read only what this module publishes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import metric_contract as contract

DRIFT_CHECK = "baseline_drift_check"
# Model Monitor's description of a drift violation: "Baseline drift distance: 0.41 exceeds threshold: 0.1".
_DISTANCE = re.compile(r"distance:\s*(\S+)", re.ASCII)
MAX_REPORT_BYTES = 16 * 1024 * 1024
"""Largest report read (statistics.json grows with the feature count; 16 MiB is thousands of features)."""
# Model Monitor's model-quality statistics.json holds one section per job ProblemType ("Model quality metrics and
# Amazon CloudWatch monitoring", SageMaker developer guide): the metrics taken from each, with their ranges. The
# multiclass section's F1 scores are class-weighted, not the contract's macro F1: only its accuracy is published.
_MODEL_QUALITY_SECTIONS: Mapping[str, tuple[tuple[str, str, float, float], ...]] = {
    "binary_classification_metrics": (
        ("auc", contract.MODEL_AUC, 0.0, 1.0),
        ("accuracy", contract.MODEL_ACCURACY, 0.0, 1.0),
        ("f1", contract.MODEL_F1, 0.0, 1.0),
    ),
    "multiclass_classification_metrics": (("accuracy", contract.MODEL_ACCURACY, 0.0, 1.0),),
    "regression_metrics": (
        ("rmse", contract.MODEL_RMSE, 0.0, math.inf),
        ("mae", contract.MODEL_MAE, 0.0, math.inf),
        ("r2", contract.MODEL_R2, -math.inf, 1.0),
    ),
}


class BridgeConfigError(ValueError):
    """The function's environment is incomplete or malformed."""


class EventRejectedError(ValueError):
    """The event is not one this function translates (wrong source, bucket or object)."""


class ReportRejectedError(ValueError):
    """A report this function should translate but cannot trust; nothing of it is published.

    Raised, not swallowed: the invocation fails, so after Lambda's retries the event lands in the function's
    dead-letter destination and its error alarm fires, where an operator sees it.
    """

    def __init__(self, bucket: str, key: str, field: str, problem: str) -> None:
        self.bucket, self.key, self.field, self.problem = bucket, key, field, problem
        super().__init__(f"s3://{bucket}/{key}: {field}: {problem}")

    def log_fields(self) -> dict[str, str]:
        """The structured fields of the one error log line."""
        return {"bucket": self.bucket, "key": self.key, "field": self.field, "problem": self.problem}


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
    """The report object an EventBridge "Object Created" event names, or ``EventRejectedError``.

    The envelope and the S3 detail are validated by Powertools' parser model of S3 events delivered through
    EventBridge (``S3EventNotificationEventBridgeModel``, Powertools "Parser"), not by hand; what is left is this
    function's own rule: the bucket and prefix it serves, and the two report files.
    """
    from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
    from pydantic import ValidationError

    if (
        not isinstance(event, Mapping)
        or event.get("source") != "aws.s3"
        or event.get("detail-type") != "Object Created"
    ):
        raise EventRejectedError("not an S3 Object Created event")
    try:
        parsed = S3EventNotificationEventBridgeModel.model_validate(event)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise EventRejectedError(f"not the shape of an S3 Object Created event: {where}: {first['msg']}") from None
    bucket, key = parsed.detail.bucket.name, parsed.detail.object.key
    if bucket != settings.bucket or not key.startswith(settings.report_prefix):
        raise EventRejectedError(f"s3://{bucket}/{key} is not under s3://{settings.bucket}/{settings.report_prefix}")
    relative = key[len(settings.report_prefix) :].split("/")
    file_name = relative[-1]
    if len(relative) < 2 or file_name not in ("constraint_violations.json", "statistics.json"):
        raise EventRejectedError(f"{key} is not a Model Monitor report file")
    return ReportObject(bucket=bucket, key=key, kind=relative[0], file_name=file_name)


def _excerpt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def read_json(s3: ObjectReader, report: ReportObject) -> Any:
    """The report's JSON body, or ``ReportRejectedError`` for a missing, empty, oversized or unparsable object."""

    def rejected(problem: str) -> ReportRejectedError:
        return ReportRejectedError(report.bucket, report.key, "(object)", problem)

    try:
        response = s3.get_object(Bucket=report.bucket, Key=report.key)
    except Exception as error:  # botocore's ClientError; the bridge takes no botocore import for one class
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise rejected("the report object does not exist (deleted or overwritten since the event)") from None
        raise
    size = response.get("ContentLength")
    if isinstance(size, int) and size > MAX_REPORT_BYTES:
        raise rejected(f"{size} bytes; allowed: at most {MAX_REPORT_BYTES}")
    body = response["Body"].read(MAX_REPORT_BYTES + 1)
    if len(body) > MAX_REPORT_BYTES:
        raise rejected(f"more than {MAX_REPORT_BYTES} bytes; allowed: at most {MAX_REPORT_BYTES}")
    if not body.strip():
        raise rejected("the report is empty")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise rejected(f"byte {error.start} is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise rejected(f"not JSON: line {error.lineno}, column {error.colno}: {error.msg}") from None
    except ValueError as error:
        raise rejected(f"not plain JSON: {error}") from None
    except RecursionError:
        raise rejected("not JSON: nested too deeply") from None


class _Checker:
    """Typed access to one report document; every failure names the report object and the field."""

    def __init__(self, report: ReportObject) -> None:
        self.report = report

    def fail(self, field: str, problem: str) -> ReportRejectedError:
        return ReportRejectedError(self.report.bucket, self.report.key, field, problem)

    def mapping(self, value: Any, field: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(field, f"expected an object, got {type(value).__name__}")
        return value

    def member(self, container: Mapping[str, Any], name: str, field: str) -> Any:
        if name not in container:
            raise self.fail(f"{field}.{name}" if field else name, "is missing")
        return container[name]

    def number(self, value: Any, field: str, *, low: float = 0.0, high: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"{_excerpt(value)} is not a number")
        number = float(value)
        if not math.isfinite(number) or not low <= number <= high:
            allowed = f"[{low:g}, {high:g}]" if math.isfinite(high) else f">= {low:g}, finite"
            raise self.fail(field, f"{_excerpt(value)} is out of range; allowed: {allowed}")
        return number

    def text(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(field, f"{_excerpt(value)} is not a non-empty string")
        return value


def _drift_violations(check: _Checker, document: Mapping[str, Any]) -> dict[str, float | None]:
    violations = check.member(document, "violations", "")
    if not isinstance(violations, list):
        raise check.fail("violations", f"expected a list, got {type(violations).__name__}")
    drifted: dict[str, float | None] = {}
    for index, item in enumerate(violations):
        where = f"violations[{index}]"
        violation = check.mapping(item, where)
        kind = check.text(check.member(violation, "constraint_check_type", where), f"{where}.constraint_check_type")
        if kind != DRIFT_CHECK:
            continue
        name = check.text(check.member(violation, "feature_name", where), f"{where}.feature_name")
        description = violation.get("description", "")
        if not isinstance(description, str):
            raise check.fail(f"{where}.description", f"{_excerpt(description)} is not a string")
        match = _DISTANCE.search(description)
        score: float | None = None
        if match:
            raw = match.group(1)
            try:
                score = float(raw)
            except ValueError:
                raise check.fail(f"{where}.description", f"distance {_excerpt(raw)} is not a number") from None
            check.number(score, f"{where}.description (distance)")
        drifted[name] = score
    return drifted


def translate(report: ReportObject, document: Any, settings: BridgeSettings) -> list[dict[str, Any]]:
    """The contract data points one Model Monitor file stands for (empty for files the contract ignores).

    The whole document is checked before any data point is built: a report with one bad value publishes nothing
    (``ReportRejectedError`` naming the object and the field).
    """
    ids = {"model": settings.model, "environment": settings.environment, "endpoint": settings.endpoint}
    check = _Checker(report)
    if report.kind not in ("data-quality", "model-quality"):
        return []
    root = check.mapping(document, "(top level)")
    if report.kind == "data-quality" and report.file_name == "constraint_violations.json":
        drifted = _drift_violations(check, root)
        data = [contract.datum(contract.DRIFTED_FEATURES, len(drifted), **ids)]
        for feature in settings.features:
            data.append(contract.datum(contract.FEATURE_DRIFT, 1 if feature in drifted else 0, feature=feature, **ids))
            score = drifted.get(feature)
            if score is not None:
                data.append(contract.datum(contract.FEATURE_DRIFT_SCORE, score, feature=feature, **ids))
        return data
    if report.kind == "data-quality" and report.file_name == "statistics.json":
        dataset = check.mapping(check.member(root, "dataset", ""), "dataset")
        count = check.number(check.member(dataset, "item_count", "dataset"), "dataset.item_count")
        if count != int(count):
            raise check.fail("dataset.item_count", f"{count!r} is not a whole number")
        return [contract.datum(contract.CAPTURED_RECORDS, count, **ids)]
    if report.kind == "model-quality" and report.file_name == "statistics.json":
        sections = [name for name in _MODEL_QUALITY_SECTIONS if name in root]
        if len(sections) != 1:
            raise check.fail(
                "(top level)", f"expected exactly one of {', '.join(_MODEL_QUALITY_SECTIONS)}, found {sections}"
            )
        section = sections[0]
        found = check.mapping(root[section], section)
        values = []
        for source, metric, low, high in _MODEL_QUALITY_SECTIONS[section]:
            where = f"{section}.{source}"
            entry = check.mapping(check.member(found, source, section), where)
            values.append(
                (metric, check.number(check.member(entry, "value", where), f"{where}.value", low=low, high=high))
            )
        return [contract.datum(metric, value, **ids) for metric, value in values]
    return []


def publish(cloudwatch: contract.MetricsClient, data: Sequence[Mapping[str, Any]]) -> int:
    """Send ``data`` to the contract namespace; return how many data points went."""
    return int(contract.put_metric_data(cloudwatch, data)) if data else 0
