"""Typed, frozen settings of the monitoring pipeline (the open drift backend) and its placeholders.

Like the training pipeline, deploy-time values are ``${Name}`` placeholders the CDK construct resolves with
``Fn::Sub``. The shared ones (role, artifact bucket, KMS key) keep their names from
:class:`pipeline_defs.settings.Placeholders`; the monitoring pipeline adds its own in
:class:`MonitoringPlaceholders`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from pipeline_defs.settings import Placeholders


class MonitoringPlaceholders(Placeholders):
    """The training pipeline's placeholders plus the capture bucket and the drift script's assets."""

    CAPTURE_BUCKET = "CaptureBucket"
    MONITORING_BUCKET = "MonitoringBucket"
    DRIFT_SCRIPT_BUCKET = "DriftScriptBucket"
    DRIFT_SCRIPT_KEY = "DriftScriptKey"
    CONTRACT_SCRIPT_BUCKET = "ContractScriptBucket"
    CONTRACT_SCRIPT_KEY = "ContractScriptKey"
    # The publishing job's own role: it is not network-isolated, so it does not get the role that reads captures.
    PUBLISH_ROLE_NAME = "PublishRoleName"

    @classmethod
    def own(cls) -> frozenset[str]:
        """The placeholders only the monitoring pipeline uses."""
        return frozenset(
            {
                cls.CAPTURE_BUCKET,
                cls.MONITORING_BUCKET,
                cls.DRIFT_SCRIPT_BUCKET,
                cls.DRIFT_SCRIPT_KEY,
                cls.CONTRACT_SCRIPT_BUCKET,
                cls.CONTRACT_SCRIPT_KEY,
                cls.PUBLISH_ROLE_NAME,
            }
        )


_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
_FEATURE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


# What the drift script's --problem-type takes (mlops_config.model_kind.ProblemType; the script can't import it).
PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")


@dataclass(frozen=True)
class MonitoringPipelineSettings:
    """Everything the monitoring pipeline definition depends on; ``to_dict()`` is the render cache key."""

    pipeline_name: str
    region: str
    model: str
    environment: str
    endpoint_name: str
    capture_prefix: str
    baseline_prefix: str
    ground_truth_prefix: str
    variant_name: str = "AllTraffic"
    shadow_variant_name: str | None = None
    """Set for a shadow-tested endpoint: the drift job also compares this variant's captured outputs."""
    target_column: str = "target"
    problem_type: str = "binary_classification"
    categorical_features: tuple[str, ...] = ()
    psi_threshold: float = 0.2
    p_value_threshold: float = 0.01
    lookback_hours: int = 24
    min_records: int = 30
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    publish_instance_type: str = "ml.t3.medium"
    volume_size_gb: int = 30
    max_runtime_seconds: int = 3600
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    sklearn_version: str = "1.2-1"
    output_prefix: str = "monitoring-pipeline"

    def __post_init__(self) -> None:  # noqa: PLR0912 - one flat check per field
        """Reject values SageMaker or the drift script would refuse, naming the field."""
        object.__setattr__(self, "categorical_features", tuple(self.categorical_features))
        object.__setattr__(self, "subnet_ids", tuple(self.subnet_ids))
        object.__setattr__(self, "security_group_ids", tuple(self.security_group_ids))
        errors: list[str] = []
        for name in ("pipeline_name", "endpoint_name"):
            if not _NAME.match(getattr(self, name)):
                errors.append(f"{name}={getattr(self, name)!r}: letters, digits and '-' only")
        if self.shadow_variant_name is not None and (
            not _NAME.match(self.shadow_variant_name) or self.shadow_variant_name == self.variant_name
        ):
            errors.append(
                f"shadow_variant_name={self.shadow_variant_name!r}: a variant name other than {self.variant_name!r}"
            )
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", self.region):
            errors.append(f"region={self.region!r}: must be an AWS region such as 'eu-west-1'")
        for name in ("capture_prefix", "baseline_prefix", "ground_truth_prefix"):
            value = getattr(self, name)
            if value.startswith("/") or not value.endswith("/"):
                errors.append(f"{name}={value!r}: a relative S3 prefix ending with '/'")
        if self.ground_truth_prefix == self.capture_prefix or not self.ground_truth_prefix.startswith(
            self.capture_prefix
        ):
            # One input covers captured data and labels: an empty second input would fail the job.
            errors.append(
                f"ground_truth_prefix={self.ground_truth_prefix!r}: must be strictly under capture_prefix "
                f"{self.capture_prefix!r} (one job input reads both)"
            )
        if self.problem_type not in PROBLEM_TYPES:
            errors.append(f"problem_type={self.problem_type!r}: one of {', '.join(PROBLEM_TYPES)}")
        for feature in self.categorical_features:
            if not _FEATURE.match(feature):
                errors.append(f"categorical_features: {feature!r} is not a feature name")
        if not self.psi_threshold > 0:
            errors.append(f"psi_threshold={self.psi_threshold!r}: must be > 0")
        if not 0 < self.p_value_threshold < 1:
            errors.append(f"p_value_threshold={self.p_value_threshold!r}: must be within (0, 1)")
        for name in ("lookback_hours", "min_records", "instance_count", "volume_size_gb", "max_runtime_seconds"):
            if getattr(self, name) < 1:
                errors.append(f"{name}={getattr(self, name)!r}: must be >= 1")
        if bool(self.subnet_ids) != bool(self.security_group_ids):
            errors.append("subnet_ids/security_group_ids: give both or neither")
        if "/" in self.output_prefix.strip("/") or not self.output_prefix.strip("/"):
            errors.append(f"output_prefix={self.output_prefix!r}: one non-empty path segment")
        if errors:
            raise ValueError("Invalid MonitoringPipelineSettings: " + "; ".join(errors))

    @property
    def capture_subdir(self) -> str:
        """Where the endpoint's capture files sit below the capture prefix (SageMaker's layout)."""
        return f"{self.endpoint_name}/{self.variant_name}"

    @property
    def shadow_capture_subdir(self) -> str | None:
        """Where the shadow variant's capture files sit below the capture prefix, for a shadow-tested endpoint."""
        return f"{self.endpoint_name}/{self.shadow_variant_name}" if self.shadow_variant_name else None

    @property
    def ground_truth_subdir(self) -> str:
        """Where the labels sit below the capture prefix."""
        return self.ground_truth_prefix[len(self.capture_prefix) :].strip("/")

    def to_dict(self) -> dict[str, Any]:
        """A stable, JSON-able view of the settings (the render cache key)."""
        return {
            item.name: list(value) if isinstance(value := getattr(self, item.name), tuple) else value
            for item in dataclasses.fields(self)
        }
