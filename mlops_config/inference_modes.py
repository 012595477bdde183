"""The settings of the inference modes beyond real-time and serverless: asynchronous endpoints, shadow tests and
inference components (issue 16). Each rule AWS imposes on them is checked here, with the field it concerns.

AWS pages these rules encode (SageMaker AI developer guide unless noted):

- "Autoscale an asynchronous endpoint": asynchronous endpoints may scale their instances to zero;
  "Scale an endpoint to zero instances": otherwise only endpoints that host inference components can;
- ``AsyncInferenceClientConfig`` (API reference): ``MaxConcurrentInvocationsPerInstance`` 1-1000;
- "Create a shadow test": one production and one shadow variant; ``ShadowModelVariantConfig``: a sampling
  percentage of at most 100;
- ``InferenceComponentComputeResourceRequirements`` (API reference): ``MinMemoryRequiredInMb`` at least 128,
  ``NumberOfCpuCoresRequired`` at least 0.25, ``NumberOfAcceleratorDevicesRequired`` at least 1 when given.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from mlops_config.base import (
    EndpointInstanceType,
    InstanceCount,
    Percent,
    S3Prefix,
    Settings,
    shown,
)

# AsyncInferenceClientConfig.MaxConcurrentInvocationsPerInstance (API reference: valid range 1-1000).
ASYNC_MAX_CONCURRENCY = 1000


def _not_a_uri(value: str | None) -> str | None:
    """Async paths are prefixes of the environment's own data bucket; a URI could name any bucket."""
    if value is not None and "://" in value:
        raise ValueError(
            f"{shown(value)} is a URI; allowed: a prefix of this environment's data bucket like 'my-model/async/"
            "output/' (async outputs and failures are written only to the environment's own buckets, encrypted "
            "with its key)"
        )
    return value


class AsyncAutoscalingSettings(Settings):
    """Target tracking on ``ApproximateBacklogSizePerInstance``, scaling in to ``min_capacity`` (0 allowed)."""

    min_capacity: int = Field(default=0, ge=0, le=100, description="0 lets an idle endpoint release every instance.")
    max_capacity: int = Field(default=2, ge=1, le=100)
    target_backlog_per_instance: float = Field(
        default=5, gt=0, le=100000, description="Queued requests per instance that target tracking keeps."
    )
    scale_in_cooldown_seconds: int = Field(default=600, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600)
    scale_up_from_zero_cooldown_seconds: int = Field(
        default=300, ge=0, le=3600, description="Cooldown of the step policy on HasBacklogWithoutCapacity."
    )

    @model_validator(mode="after")
    def _bounds(self) -> AsyncAutoscalingSettings:
        if self.max_capacity < self.min_capacity:
            raise ValueError(
                f"max_capacity ({self.max_capacity}) is below min_capacity ({self.min_capacity}); "
                "allowed: max_capacity >= min_capacity"
            )
        return self


class AsyncAlarmSettings(Settings):
    """Alarms of an asynchronous endpoint on its queue and its failed requests."""

    oldest_request_age_seconds: int = Field(
        default=900, ge=60, le=86400, description="ApproximateAgeOfOldestRequest (max) above this alarms."
    )
    invocation_failures: int = Field(
        default=1, ge=1, le=100000, description="InvocationFailures (sum per period) at or above this alarms."
    )


class AsyncInferenceSettings(Settings):
    """An asynchronous endpoint: requests queue, results land in S3 and are announced on SNS."""

    instance_type: EndpointInstanceType = "ml.m5.large"
    initial_instance_count: InstanceCount = 1
    max_concurrent_invocations_per_instance: int = Field(
        default=4,
        ge=1,
        le=ASYNC_MAX_CONCURRENCY,
        description="Requests SageMaker sends one instance's container at a time (AsyncInferenceClientConfig).",
    )
    input_prefix: S3Prefix | None = Field(default=None, description="Defaults to '<model>/async/input/'.")
    output_prefix: S3Prefix | None = Field(default=None, description="Defaults to '<model>/async/output/'.")
    failure_prefix: S3Prefix | None = Field(default=None, description="Defaults to '<model>/async/failures/'.")
    autoscaling: AsyncAutoscalingSettings = AsyncAutoscalingSettings()
    data_capture_percent: Percent = 20
    baking_seconds: int = Field(
        default=300, ge=0, le=3600, description="After an update, how long the rollback alarms watch the new fleet."
    )
    alarms: AsyncAlarmSettings = AsyncAlarmSettings()

    @field_validator("input_prefix", "output_prefix", "failure_prefix", mode="before")
    @classmethod
    def _in_environment_buckets(cls, value: str | None) -> str | None:
        return _not_a_uri(value)

    def prefixes(self, model: str) -> tuple[str, str, str]:
        """The input, output and failure prefixes for ``model`` in the data bucket, defaults filled in."""
        return (
            self.input_prefix or f"{model}/async/input/",
            self.output_prefix or f"{model}/async/output/",
            self.failure_prefix or f"{model}/async/failures/",
        )

    @model_validator(mode="after")
    def _checks(self) -> AsyncInferenceSettings:
        scaling = self.autoscaling
        if not max(scaling.min_capacity, 1) <= self.initial_instance_count <= scaling.max_capacity:
            raise ValueError(
                f"initial_instance_count ({self.initial_instance_count}) is outside autoscaling "
                f"[{max(scaling.min_capacity, 1)}, {scaling.max_capacity}]; allowed: "
                "max(min_capacity, 1) <= initial_instance_count <= max_capacity"
            )
        named = {
            name: value
            for name, value in (
                ("input_prefix", self.input_prefix),
                ("output_prefix", self.output_prefix),
                ("failure_prefix", self.failure_prefix),
            )
            if value
        }
        names = list(named)
        for index, first in enumerate(names):
            for second in names[index + 1 :]:
                a, b = named[first], named[second]
                if a.startswith(b) or b.startswith(a):
                    raise ValueError(
                        f"{first} {a!r} and {second} {b!r} overlap; allowed: disjoint prefixes (results must never "
                        "be read back as requests)"
                    )
        return self


class ShadowSettings(Settings):
    """A shadow test on a real-time endpoint: the newly approved package runs as a shadow variant.

    ``production_package_arn`` keeps answering every request; the package the approved-models file (or the pin)
    names is the candidate, which receives a copy of ``traffic_percent`` of the requests and answers no client.
    Promotion is a configuration change: remove this block (the candidate becomes the production variant
    through the usual blue/green update), or point ``production_package_arn`` at another version.
    """

    production_package_arn: str = Field(description="The package that keeps serving while the candidate shadows.")
    traffic_percent: float = Field(
        default=100,
        gt=0,
        le=100,
        description=(
            "Share of production requests copied to the candidate (1-100). 100, the default, is AWS's documented "
            "example (both variants at weight 1); a smaller share sets the shadow's weight to that fraction of "
            "production's, which AWS documents for shadow tests' sampling percentage but not for endpoint configs."
        ),
    )
    instance_type: EndpointInstanceType | None = Field(
        default=None, description="The shadow variant's instance type; defaults to the production variant's."
    )
    instance_count: InstanceCount = 1
    latency_ratio: float = Field(
        default=1.5, gt=1, le=100, description="Alarm when the shadow's p99 latency exceeds production's by this."
    )
    error_rate_margin_percent: float = Field(
        default=1, gt=0, le=100, description="Alarm when the shadow's error rate exceeds production's by this."
    )
    prediction_drift_threshold: float = Field(
        default=0.2,
        gt=0,
        le=10,
        description=(
            "Alarm when the PSI of the shadow's predictions against production's exceeds this (monitoring backend "
            "`open` only: its drift job reads both variants' captured outputs)."
        ),
    )

    @field_validator("production_package_arn")
    @classmethod
    def _package_arn(cls, value: str) -> str:
        # Imported here: serving imports this module.
        from mlops_config.serving import MODEL_PACKAGE_ARN

        if not MODEL_PACKAGE_ARN.fullmatch(value):
            raise ValueError(
                f"{shown(value)} is not a versioned model package ARN; allowed: "
                "arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>"
            )
        return value

    @field_validator("traffic_percent")
    @classmethod
    def _whole_percent(cls, value: float) -> float:
        if value < 1:
            raise ValueError(
                f"{value:g} copies less than one request in a hundred; allowed: 1-100 (the shadow's weight is a "
                "share of production's; below 1% the comparison alarms see too few requests to compare)"
            )
        return value


# Instance families that are not SageMaker real-time hosting instances of an inference-component endpoint:
# burstable instances cannot reserve a fixed share of CPU and memory for each copy.
_NOT_FOR_COMPONENTS = ("t2",)


# Families whose instances carry accelerator devices (NVIDIA GPUs, Inferentia, Trainium).
_ACCELERATED = re.compile(r"^(g\d+[a-z]*|p\d+[a-z]*|inf\d+|trn\d+n?)$")


def has_accelerators(instance_type: str) -> bool:
    """Whether ``instance_type`` (``ml.<family>.<size>``) has accelerator devices a copy can reserve."""
    return bool(_ACCELERATED.match(instance_type.split(".")[1]))


class ComputeRequirements(Settings):
    """What one copy of a model reserves on an instance (``ComputeResourceRequirements``)."""

    min_memory_mb: int = Field(default=1024, ge=128, le=4_000_000, description="MinMemoryRequiredInMb.")
    cpu_cores: float | None = Field(default=1, ge=0.25, le=512, description="NumberOfCpuCoresRequired.")
    accelerator_devices: int | None = Field(
        default=None, ge=1, le=64, description="NumberOfAcceleratorDevicesRequired (GPU, Inferentia, Trainium)."
    )


class ComponentScalingSettings(Settings):
    """Copies of one model: target tracking on invocations per copy; ``min_copies`` 0 scales the model to zero."""

    min_copies: int = Field(default=1, ge=0, le=100)
    max_copies: int = Field(default=2, ge=1, le=100)
    target_invocations_per_copy: float = Field(default=50, gt=0, le=100000)
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600)

    @model_validator(mode="after")
    def _bounds(self) -> ComponentScalingSettings:
        if self.max_copies < self.min_copies:
            raise ValueError(
                f"max_copies ({self.max_copies}) is below min_copies ({self.min_copies}); "
                "allowed: max_copies >= min_copies"
            )
        return self


class InferenceComponentSettings(Settings):
    """A model served as an inference component of its environment's shared endpoint."""

    initial_copies: int = Field(default=1, ge=1, le=100)
    compute: ComputeRequirements = ComputeRequirements()
    autoscaling: ComponentScalingSettings = ComponentScalingSettings()

    @model_validator(mode="after")
    def _initial(self) -> InferenceComponentSettings:
        scaling = self.autoscaling
        if not max(scaling.min_copies, 1) <= self.initial_copies <= scaling.max_copies:
            raise ValueError(
                f"initial_copies ({self.initial_copies}) is outside autoscaling [{max(scaling.min_copies, 1)}, "
                f"{scaling.max_copies}]; allowed: max(min_copies, 1) <= initial_copies <= max_copies"
            )
        return self


class SharedEndpointSettings(Settings):
    """An environment's endpoint of shared instances that hosts the inference components of its models.

    SageMaker manages the instance count between ``min_instances`` and ``max_instances`` as copies come and go
    (``ManagedInstanceScaling``); ``min_instances`` 0 lets the endpoint release every instance once no copy is
    left ("Scale an endpoint to zero instances": only endpoints hosting inference components can).
    """

    instance_type: EndpointInstanceType = "ml.m5.xlarge"
    initial_instance_count: InstanceCount = 1
    min_instances: int = Field(default=1, ge=0, le=100)
    max_instances: int = Field(default=2, ge=1, le=100)

    @field_validator("instance_type")
    @classmethod
    def _hosting_instance(cls, value: str) -> str:
        family = value.split(".")[1]
        if family in _NOT_FOR_COMPONENTS:
            raise ValueError(
                f"{shown(value)} is a burstable instance, which cannot reserve fixed CPU and memory per model copy; "
                "allowed: a real-time hosting instance with fixed resources (ml.m5.xlarge, ml.c5.2xlarge, ml.g5.xlarge"
                ", ...)"
            )
        return value

    @model_validator(mode="after")
    def _bounds(self) -> SharedEndpointSettings:
        if self.max_instances < self.min_instances:
            raise ValueError(
                f"max_instances ({self.max_instances}) is below min_instances ({self.min_instances}); "
                "allowed: max_instances >= min_instances"
            )
        if not max(self.min_instances, 1) <= self.initial_instance_count <= self.max_instances:
            raise ValueError(
                f"initial_instance_count ({self.initial_instance_count}) is outside [{max(self.min_instances, 1)}, "
                f"{self.max_instances}]; allowed: max(min_instances, 1) <= initial_instance_count <= max_instances"
            )
        return self
