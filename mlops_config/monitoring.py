"""Monitoring of one model in one environment: which backend, what it checks, and alarm thresholds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlops_config.base import InstanceCount, ProcessingInstanceType, S3Prefix, ScheduleExpression, Settings


class AlarmSettings(Settings):
    """Thresholds and windows of the alarms on the metric contract and the endpoint's own metrics."""

    period_seconds: int = Field(default=300, ge=60, le=86400)
    evaluation_periods: int = Field(default=3, ge=1, le=100)
    datapoints_to_alarm: int = Field(default=2, ge=1, le=100)
    error_5xx_threshold: float = Field(default=5, ge=0, description="Count of 5XX errors per period.")
    invocation_error_rate_percent: float = Field(default=5, gt=0, le=100, description="4XX+5XX per invocations.")
    latency_p99_ms: float = Field(default=1000, gt=0, le=600000)
    model_setup_time_ms: float = Field(default=10000, gt=0, le=600000, description="Serverless cold-start setup time.")
    drifted_features_threshold: int = Field(default=1, ge=1, description="Alarm when at least this many features drift.")
    min_model_quality: float = Field(default=0.85, gt=0, le=1, description="Alarm below this AUC on labelled data.")


class MonitoringSettings(Settings):
    """Drift and quality monitoring; both backends publish the same CloudWatch metrics."""

    enabled: bool = True
    backend: Literal["model_monitor", "open"] = Field(
        default="open",
        description="'model_monitor' uses SageMaker Model Monitor (closed to new accounts in 2026); "
        "'open' runs the project's own drift pipeline.",
    )
    schedule: ScheduleExpression = "cron(0 * ? * * *)"
    instance_type: ProcessingInstanceType = "ml.m5.large"
    instance_count: InstanceCount = 1
    data_quality: bool = True
    model_quality: bool = True
    bias: bool = False
    explainability: bool = False
    ground_truth_prefix: S3Prefix | None = Field(default=None, description="Defaults to '<model>/ground-truth/'.")
    psi_threshold: float = Field(default=0.2, gt=0, le=10, description="Population stability index that counts as drift.")
    p_value_threshold: float = Field(default=0.01, gt=0, lt=1, description="KS / chi-squared p-value that counts as drift.")
    alarms: AlarmSettings = AlarmSettings()
