"""Monitoring of one model in one environment: which backend, what it checks, and alarm thresholds."""

from __future__ import annotations

import re
from typing import Literal, Self, get_args

from pydantic import Field, field_validator, model_validator

from mlops_config.base import (
    InstanceCount,
    ProcessingInstanceType,
    S3Prefix,
    ScheduleExpression,
    Settings,
    ascii_fullmatch,
    shown,
)
from mlops_config.model_kind import METRICS, QualityGate
from mlops_config.schedule import is_one_time

# The feature columns of the sample dataset (``pipeline_defs/steps/sample_data.py``), shipped as a list so that
# synth never reads data: the per-feature dashboard widgets and metrics are built from it.
SAMPLE_FEATURES: tuple[str, ...] = tuple(
    f"{group}_{name}" if group == "mean" else f"{name}_{group}" if group == "error" else f"worst_{name}"
    for group in ("mean", "error", "worst")
    for name in (
        "radius",
        "texture",
        "perimeter",
        "area",
        "smoothness",
        "compactness",
        "concavity",
        "concave_points",
        "symmetry",
        "fractal_dimension",
    )
)
# A CloudWatch dimension value and a CSV header both hold it; keep it to safe characters.
_FEATURE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}", re.ASCII)


class AlarmSettings(Settings):
    """Thresholds and windows of the alarms on the metric contract and the endpoint's own metrics."""

    period_seconds: int = Field(default=300, ge=60, le=86400)
    evaluation_periods: int = Field(default=3, ge=1, le=100)
    datapoints_to_alarm: int = Field(default=2, ge=1, le=100)
    error_5xx_threshold: float = Field(default=5, ge=0, description="Count of 5XX errors per period.")
    invocation_error_rate_percent: float = Field(default=5, gt=0, le=100, description="4XX+5XX per invocations.")
    latency_p99_ms: float = Field(default=1000, gt=0, le=600000)
    model_setup_time_ms: float = Field(default=10000, gt=0, le=600000, description="Serverless cold-start setup time.")
    drifted_features_threshold: int = Field(
        default=1, ge=1, description="Alarm when at least this many features drift."
    )
    min_model_quality: float = Field(
        default=0.85,
        gt=0,
        le=1,
        description="Alarm below this AUC (binary) or macro F1 (multiclass) on labelled data, unless "
        "model_quality_alarm says otherwise.",
    )
    model_quality_alarm: QualityGate | None = Field(
        default=None,
        description="The model-quality alarm's metric and threshold ({metric, threshold}, a metric of the model's "
        "problem type; rmse and mae alarm above the threshold, the others below). Default: binary AUC below "
        "min_model_quality, multiclass macro F1 below min_model_quality, regression the model's registration gate.",
    )
    monitoring_period_seconds: int = Field(
        default=3600, ge=300, le=86400, description="Window of the drift and quality alarms: one monitoring run."
    )
    monitoring_evaluation_periods: int = Field(default=1, ge=1, le=24, description="Runs in a row before alarming.")


def quality_alarm(problem_type: str, alarms: AlarmSettings, gate: QualityGate) -> QualityGate:
    """The metric and threshold the model-quality alarm of a ``problem_type`` model watches (see AlarmSettings).

    Regression has no unitless default (RMSE and MAE are in the target's unit), so it alarms when production
    quality falls past the bar the model was registered by, ``gate``.
    """
    if alarms.model_quality_alarm is not None:
        return alarms.model_quality_alarm
    if problem_type == "binary_classification":
        return QualityGate(metric="auc", threshold=alarms.min_model_quality)
    if problem_type == "multiclass_classification":
        return QualityGate(metric="f1", threshold=alarms.min_model_quality)
    return gate


def monitoring_fits_problem_type(problem_type: str, monitoring: MonitoringSettings) -> str | None:
    """Why ``monitoring`` cannot monitor a ``problem_type`` model (a field path and what is allowed), or None."""
    chosen = monitoring.alarms.model_quality_alarm
    if chosen is not None and chosen.metric not in METRICS[problem_type]:
        return (
            f"monitoring.alarms.model_quality_alarm.metric: {chosen.metric!r} is not a {problem_type} metric; "
            f"allowed: {', '.join(METRICS[problem_type])}"
        )
    multiclass = problem_type == "multiclass_classification"
    if multiclass and monitoring.backend == "model_monitor" and monitoring.model_quality:
        # Model Monitor's multiclass model quality reads a predicted label (EndpointInput.InferenceAttribute) from
        # the endpoint's output; the platform's multiclass response is one probability per class
        # (docs/bring-your-own-model.md), from which it can't take one; nor does its report hold a macro F1.
        return (
            "monitoring.model_quality: Model Monitor's multiclass model quality needs a predicted label in the "
            "endpoint's output, and a multiclass model here answers one probability per class; allowed: "
            "model_quality: false with backend 'model_monitor', or backend 'open' (which computes accuracy and "
            "macro F1 from the probabilities)"
        )
    return None


MonitoringBackend = Literal["open", "model_monitor", "endpoint_only"]
MONITORING_BACKENDS: tuple[MonitoringBackend, ...] = get_args(MonitoringBackend)
# The backends that analyse the endpoint's captured requests. Serverless endpoints have no data capture (Serverless
# Inference, "Feature exclusions"), so these can never see data there.
CAPTURE_BACKENDS: frozenset[MonitoringBackend] = frozenset({"open", "model_monitor"})

# A Model Monitor time offset: a negative ISO 8601 duration in one of the forms "Schedule model quality monitoring
# jobs" documents (-P#D, -PT#H, -PT#M); the API takes 1-15 characters (botocore MonitoringTimeOffsetString).
_OFFSET = re.compile(r"-P(?:(?P<days>[0-9]+)D|T(?P<hours>[0-9]+)H|T(?P<minutes>[0-9]+)M)", re.ASCII)


def offset_minutes(offset: str) -> int:
    """How far back ``offset`` (e.g. ``-P1D``) reaches, in minutes (positive)."""
    match = _OFFSET.fullmatch(offset) if offset.isascii() else None
    if match is None:
        raise ValueError(f"{shown(offset)} is not a Model Monitor time offset")
    days, hours, minutes = (int(match.group(name) or 0) for name in ("days", "hours", "minutes"))
    return days * 1440 + hours * 60 + minutes


def _time_offset(value: str) -> str:
    if len(value) > 15 or not ascii_fullmatch(_OFFSET, value) or offset_minutes(value) == 0:
        raise ValueError(
            f"{shown(value)} is not a Model Monitor time offset; allowed: a negative ISO 8601 duration of at most 15 "
            "characters, '-P<n>D' (days), '-PT<n>H' (hours) or '-PT<n>M' (minutes), n > 0, e.g. '-P1D'"
        )
    return value


class MonitoringSettings(Settings):
    """Drift and quality monitoring; the backends that monitor publish the same CloudWatch metrics."""

    enabled: bool = True
    backend: MonitoringBackend | None = Field(
        default=None,
        description="'open' runs the project's own drift pipeline on captured requests; 'model_monitor' uses "
        "SageMaker Model Monitor (closed to new customers: only for accounts that still have it); 'endpoint_only' "
        "keeps the endpoint alarms and dashboard without drift or quality analysis. Default (set from serving.mode "
        "by ModelEnvironmentSettings): 'open' for real-time endpoints, 'endpoint_only' for serverless ones, which "
        "have no data capture.",
    )
    schedule: ScheduleExpression = "cron(0 * ? * * *)"
    instance_type: ProcessingInstanceType = "ml.m5.large"
    instance_count: InstanceCount = 1
    data_quality: bool = True
    model_quality: bool = True
    bias: bool = False
    explainability: bool = False
    ground_truth_prefix: S3Prefix | None = Field(default=None, description="Defaults to '<model>/ground-truth/'.")
    start_time_offset: str = Field(
        default="-P2D",
        description="Model Monitor model quality and bias: each run analyses captured requests from this far back "
        "(labels arrive late)...",
    )
    end_time_offset: str = Field(
        default="-P1D",
        description="... up to this far back: labels that arrive within a day of the request are counted. "
        "A negative ISO 8601 duration like the start; the window must not be empty.",
    )
    psi_threshold: float = Field(
        default=0.2, gt=0, le=10, description="Population stability index that counts as drift."
    )
    p_value_threshold: float = Field(
        default=0.01, gt=0, lt=1, description="KS / chi-squared p-value that counts as drift."
    )
    alarms: AlarmSettings = AlarmSettings()
    features: tuple[str, ...] = Field(
        default=SAMPLE_FEATURES,
        min_length=1,
        max_length=200,
        description="Input feature columns, in the order the endpoint receives them (CSV); one drift metric each.",
    )
    categorical_features: tuple[str, ...] = Field(
        default=(), description="Features compared with chi-squared instead of Kolmogorov-Smirnov."
    )
    target_column: str = Field(default="target", description="The label column of the ground truth.")
    publish_instance_type: ProcessingInstanceType = Field(
        default="ml.t3.medium", description="The small, non-isolated job that publishes the open backend's metrics."
    )
    bridge_reserved_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Opt-in reserved concurrency of the Model Monitor bridge function; default none (a reservation "
        "fails in accounts whose unreserved concurrency would drop below 100).",
    )

    @field_validator("target_column")
    @classmethod
    def _target_column(cls, value: str) -> str:
        if not ascii_fullmatch(_FEATURE_NAME, value):
            raise ValueError(
                f"{shown(value)} is not a usable column name; allowed: 1-64 letters, digits, '_', '.', '-', "
                "starting with a letter or '_'"
            )
        return value

    @field_validator("features", "categorical_features")
    @classmethod
    def _feature_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not ascii_fullmatch(_FEATURE_NAME, name):
                raise ValueError(
                    f"{shown(name)} is not a usable feature name; allowed: 1-64 letters, digits, '_', '.', '-', "
                    "starting with a letter or '_'"
                )
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise ValueError(f"feature(s) {shown(duplicates)} listed twice; allowed: each feature once")
        return value

    @field_validator("start_time_offset", "end_time_offset")
    @classmethod
    def _offsets(cls, value: str) -> str:
        return _time_offset(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if offset_minutes(self.start_time_offset) <= offset_minutes(self.end_time_offset):
            raise ValueError(
                f"start_time_offset {self.start_time_offset!r} does not start before end_time_offset "
                f"{self.end_time_offset!r}; allowed: a start offset reaching further back than the end offset "
                "(e.g. start '-P2D', end '-P1D')"
            )
        unknown = [name for name in self.categorical_features if name not in self.features]
        if unknown:
            raise ValueError(f"categorical_features {unknown} are not in features; allowed: a subset of features")
        if self.target_column in self.features:
            raise ValueError(
                f"target_column {self.target_column!r} is also listed in features; allowed: a column not in features"
            )
        if self.alarms.drifted_features_threshold > len(self.features):
            raise ValueError(
                f"alarms.drifted_features_threshold ({self.alarms.drifted_features_threshold}) exceeds the "
                f"{len(self.features)} feature(s) monitored, so the drift alarm could never fire; "
                f"allowed: 1-{len(self.features)}"
            )
        if is_one_time(self.schedule):
            raise ValueError(
                f"schedule: {self.schedule!r} runs once, so monitoring would stop after one run; "
                "allowed: a recurring cron() or rate() expression"
            )
        if self.alarms.datapoints_to_alarm > self.alarms.evaluation_periods:
            raise ValueError(
                f"alarms.datapoints_to_alarm ({self.alarms.datapoints_to_alarm}) exceeds alarms.evaluation_periods "
                f"({self.alarms.evaluation_periods}); allowed: at most evaluation_periods"
            )
        return self

    def for_serving_mode(self, mode: str) -> MonitoringSettings:
        """These settings with the backend resolved for an endpoint of ``mode``; ``ValueError`` naming
        ``backend`` when it reads data capture and ``mode`` is serverless (no capture there)."""
        # Serverless endpoints capture no data; inference-component endpoints here capture none either (the
        # endpoint config is shared by several models, so capture would mix their records).
        no_capture = mode in ("serverless", "components")
        backend: MonitoringBackend = self.backend or ("endpoint_only" if no_capture else "open")
        if no_capture and backend in CAPTURE_BACKENDS:
            allowed = [name for name in MONITORING_BACKENDS if name not in CAPTURE_BACKENDS]
            raise ValueError(
                f"backend: {backend!r} reads endpoint data capture, which {mode} endpoints don't have "
                f"(serving.mode is {mode!r}); allowed: {', '.join(repr(name) for name in allowed)}, "
                "or serving.mode 'realtime' or 'async'"
            )
        clarify = [name for name in ("bias", "explainability") if getattr(self, name)]
        if clarify and backend != "model_monitor":
            raise ValueError(
                f"{clarify[0]}: true needs Clarify, which only backend 'model_monitor' runs (backend is {backend!r}); "
                f"allowed: {clarify[0]}: false, or backend 'model_monitor' where the account still has Model Monitor"
            )
        return self if backend == self.backend else self.model_copy(update={"backend": backend})

    def ground_truth_prefix_for(self, model: str) -> str:
        """Where labels for ``model`` arrive in the data-capture bucket."""
        return self.ground_truth_prefix or f"{model}/ground-truth/"
