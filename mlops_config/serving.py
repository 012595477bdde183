"""How a model is served in one environment: real-time (optionally with a shadow test), serverless, asynchronous,
as an inference component of a shared endpoint, batch, or not at all."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlops_config.base import (
    EndpointInstanceType,
    InstanceCount,
    Percent,
    S3Prefix,
    ScheduleExpression,
    Settings,
    TransformInstanceType,
    ascii_fullmatch,
    shown,
)
from mlops_config.inference_modes import AsyncInferenceSettings, InferenceComponentSettings, ShadowSettings

MODEL_PACKAGE_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"model-package/(?P<group>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})/(?P<version>[0-9]{1,9})",
    re.ASCII,
)
"""A versioned model package ARN; use with ``fullmatch`` (``match`` would accept a trailing newline or suffix)."""


class AutoscalingSettings(Settings):
    """Target tracking on SageMakerVariantInvocationsPerInstance."""

    min_capacity: int = Field(default=1, ge=0, le=100)
    max_capacity: int = Field(default=4, ge=1, le=100)
    target_invocations_per_instance: float = Field(default=100, gt=0, le=100000)
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600)

    @field_validator("min_capacity")
    @classmethod
    def _no_scale_to_zero(cls, value: int) -> int:
        # "Scale an endpoint to zero instances": only endpoints hosting inference components (and asynchronous
        # endpoints, "Autoscale an asynchronous endpoint") can scale in to zero instances.
        if value == 0:
            raise ValueError(
                "0: a real-time endpoint cannot scale to zero instances (SageMaker allows it only for asynchronous "
                "endpoints and endpoints hosting inference components); allowed: 1-100, or serving.mode 'async' "
                "(async_inference.autoscaling.min_capacity) or 'components' (inference_component.autoscaling."
                "min_copies)"
            )
        return value

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingSettings:
        if self.max_capacity < self.min_capacity:
            raise ValueError(
                f"max_capacity ({self.max_capacity}) is below min_capacity ({self.min_capacity}); "
                "allowed: max_capacity >= min_capacity"
            )
        return self


class DeploymentSettings(Settings):
    """Blue/green deployment guardrails for endpoint updates, rolled back by the endpoint's alarms."""

    strategy: Literal["all_at_once", "canary", "linear"] = "canary"
    # SageMaker's guardrails: a canary is at most 50% of the new fleet, a linear step 10-50%.
    canary_percent: float = Field(default=10, gt=0, le=50)
    linear_step_percent: float = Field(default=25, ge=10, le=50)
    wait_interval_seconds: int = Field(default=300, ge=0, le=3600)
    termination_wait_seconds: int = Field(default=120, ge=0, le=3600)
    maximum_execution_timeout_seconds: int = Field(default=1800, ge=600, le=14400)


class RealtimeSettings(Settings):
    """A real-time endpoint on instances."""

    instance_type: EndpointInstanceType = "ml.m5.large"
    initial_instance_count: InstanceCount = 1
    autoscaling: AutoscalingSettings = AutoscalingSettings()
    data_capture_percent: Percent = 20
    deployment: DeploymentSettings = DeploymentSettings()
    shadow: ShadowSettings | None = Field(
        default=None, description="Run the served package as a shadow of production_package_arn (docs/serving.md)."
    )

    @model_validator(mode="after")
    def _initial_within_scaling(self) -> RealtimeSettings:
        scaling = self.autoscaling
        if not scaling.min_capacity <= self.initial_instance_count <= scaling.max_capacity:
            raise ValueError(
                f"initial_instance_count ({self.initial_instance_count}) is outside autoscaling "
                f"[{scaling.min_capacity}, {scaling.max_capacity}] (auto scaling would resize it at once); "
                "allowed: min_capacity <= initial_instance_count <= max_capacity"
            )
        return self


class RollbackAlarmSettings(Settings):
    """The alarms that roll an endpoint update back (and that page when they fire in steady state)."""

    errors_5xx_per_minute: int = Field(default=1, ge=1, le=100000, description="Invocation5XXErrors sum per minute.")
    latency_p99_ms: float = Field(default=1000, gt=0, le=3_600_000, description="ModelLatency p99 in milliseconds.")
    evaluation_periods: int = Field(default=3, ge=1, le=60, description="One-minute periods that must breach.")


# Memory sizes a serverless endpoint accepts (MB).
SERVERLESS_MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)


class ServerlessSettings(Settings):
    """A serverless endpoint."""

    memory_size_mb: int = 2048
    max_concurrency: int = Field(default=5, ge=1, le=200)
    provisioned_concurrency: int | None = Field(default=None, ge=1, le=200)
    baking_seconds: int = Field(
        default=300, ge=0, le=3600, description="After an update, how long the rollback alarms watch the new version."
    )

    @field_validator("memory_size_mb")
    @classmethod
    def _memory(cls, value: int) -> int:
        if value not in SERVERLESS_MEMORY_SIZES:
            raise ValueError(
                f"{value} is not a serverless memory size; allowed MB: {', '.join(map(str, SERVERLESS_MEMORY_SIZES))}"
            )
        return value

    @model_validator(mode="after")
    def _provisioned(self) -> ServerlessSettings:
        if self.provisioned_concurrency is not None and self.provisioned_concurrency > self.max_concurrency:
            raise ValueError(
                f"provisioned_concurrency ({self.provisioned_concurrency}) exceeds max_concurrency "
                f"({self.max_concurrency}); allowed: at most max_concurrency"
            )
        return self


# New files are collected for this long into one batch run unless configured otherwise.
DEFAULT_ARRIVAL_WINDOW_MINUTES = 15


class BatchSettings(Settings):
    """Batch transform of files under a prefix of the environment's data bucket."""

    enabled: bool = False
    instance_type: TransformInstanceType = "ml.m5.large"
    instance_count: InstanceCount = 1
    input_prefix: S3Prefix | None = Field(default=None, description="Defaults to '<model>/batch/input/'.")
    output_prefix: S3Prefix | None = Field(default=None, description="Defaults to '<model>/batch/output/'.")
    manifest_prefix: S3Prefix | None = Field(
        default=None,
        description="Where new-data windows write their manifests. Defaults to '<model>/batch/manifests/'.",
    )
    schedule: ScheduleExpression | None = Field(
        default=None,
        description="EventBridge Scheduler expression (UTC); a scheduled run scores the whole input prefix.",
    )
    run_on_new_data: bool = Field(
        default=True, description="Score files landing under input_prefix: one run per arrival window, new files only."
    )
    arrival_window_minutes: int = Field(
        default=DEFAULT_ARRIVAL_WINDOW_MINUTES,
        ge=1,
        le=1440,
        description="How often new files are collected into one run (EventBridge Scheduler rate, minutes).",
    )

    def prefixes(self, model: str) -> tuple[str, str]:
        """The input and output prefixes for ``model``, defaults filled in."""
        return (self.input_prefix or f"{model}/batch/input/", self.output_prefix or f"{model}/batch/output/")

    def manifest_prefix_for(self, model: str) -> str:
        """Where ``model``'s new-data windows write their manifests, default filled in."""
        return self.manifest_prefix or f"{model}/batch/manifests/"

    @model_validator(mode="after")
    def _separate_prefixes(self) -> BatchSettings:
        named = {
            name: value
            for name, value in (
                ("input_prefix", self.input_prefix),
                ("output_prefix", self.output_prefix),
                ("manifest_prefix", self.manifest_prefix),
            )
            if value
        }
        names = list(named)
        for index, first in enumerate(names):
            for second in names[index + 1 :]:
                if overlapping(named[first], named[second]):
                    raise ValueError(
                        f"{first} {named[first]!r} and {second} {named[second]!r} overlap: with run_on_new_data "
                        "outputs or manifests under the input prefix would count as new data; allowed: disjoint "
                        "prefixes"
                    )
        return self


def overlapping(first: str, second: str) -> bool:
    """Whether one S3 prefix contains the other."""
    return first.startswith(second) or second.startswith(first)


class ServingSettings(Settings):
    """Serving of one model in one environment."""

    mode: Literal["none", "realtime", "serverless", "async", "components"] = "serverless"
    model_package_arn: str | None = Field(
        default=None,
        description="Pin the served package; otherwise the resolver's approved-model file decides.",
    )
    realtime: RealtimeSettings = RealtimeSettings()
    serverless: ServerlessSettings = ServerlessSettings()
    async_inference: AsyncInferenceSettings = AsyncInferenceSettings()
    inference_component: InferenceComponentSettings = InferenceComponentSettings()
    batch: BatchSettings = BatchSettings()
    rollback_alarms: RollbackAlarmSettings = RollbackAlarmSettings()

    @field_validator("model_package_arn")
    @classmethod
    def _package_arn(cls, value: str | None) -> str | None:
        if value is not None and not ascii_fullmatch(MODEL_PACKAGE_ARN, value):
            raise ValueError(
                f"{shown(value)} is not a versioned model package ARN; allowed: "
                "arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>"
            )
        return value
