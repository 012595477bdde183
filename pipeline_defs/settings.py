"""Typed, frozen settings for the training pipeline definition.

Deploy-time values (role, buckets, KMS key, step-script asset URIs) are CloudFormation
tokens at synth time, so the definition holds ``${Name}`` placeholders for them and the
CDK construct resolves them with ``Fn::Sub``. Every placeholder name lives in
:class:`Placeholders`, the single source of truth for both sides.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pipeline_defs.steps.hyperparameters import DEFAULT_HYPERPARAMETERS

# ISO 8601 durations as SageMaker's CacheConfig.ExpireAfter accepts them (P30D, PT12H, P1DT6H).
_ISO_8601_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
_APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")


class Placeholders:
    """Names of the ``${Name}`` placeholders a rendered definition may hold.

    The CDK construct must map each name used in the JSON to a value (usually a token).
    ``AWS::Partition`` and ``AWS::AccountId`` are pseudo parameters that ``Fn::Sub``
    resolves by itself; they appear only inside :meth:`execution_role_arn`.
    """

    EXECUTION_ROLE_NAME = "ExecutionRoleName"
    DATA_BUCKET = "DataBucket"
    ARTIFACT_BUCKET = "ArtifactBucket"
    KMS_KEY_ARN = "KmsKeyArn"
    # A step script is a CDK file asset: its bucket and object key (``Asset.s3_bucket_name``,
    # ``Asset.s3_object_key``). The URI is assembled here, not passed whole, because the SDK
    # uploads any input that does not start with ``s3://`` as a local file.
    PREPROCESS_SCRIPT_BUCKET = "PreprocessScriptBucket"
    PREPROCESS_SCRIPT_KEY = "PreprocessScriptKey"
    EVALUATE_SCRIPT_BUCKET = "EvaluateScriptBucket"
    EVALUATE_SCRIPT_KEY = "EvaluateScriptKey"

    # Pseudo parameters: resolved by Fn::Sub itself, never part of the variable map.
    PSEUDO_PARAMETERS = frozenset({"AWS::Partition", "AWS::AccountId", "AWS::Region"})

    @classmethod
    def all(cls) -> frozenset[str]:
        """Every placeholder a definition may use that needs a value in the Fn::Sub map."""
        return frozenset(
            {
                cls.EXECUTION_ROLE_NAME,
                cls.DATA_BUCKET,
                cls.ARTIFACT_BUCKET,
                cls.KMS_KEY_ARN,
                cls.PREPROCESS_SCRIPT_BUCKET,
                cls.PREPROCESS_SCRIPT_KEY,
                cls.EVALUATE_SCRIPT_BUCKET,
                cls.EVALUATE_SCRIPT_KEY,
            }
        )

    @staticmethod
    def ref(name: str) -> str:
        """The ``${name}`` text of one placeholder."""
        return "${" + name + "}"

    @classmethod
    def s3_uri(cls, bucket: str, key: str) -> str:
        """``s3://${bucket}/${key}`` for a bucket and an object-key placeholder."""
        return f"s3://{cls.ref(bucket)}/{cls.ref(key)}"

    @classmethod
    def execution_role_arn(cls) -> str:
        """The execution role ARN, shaped as an ARN so the SDK never looks the role up in IAM.

        The SDK resolves anything that is not ``arn:...:iam::...`` through ``iam:GetRole``;
        an ARN assembled from pseudo parameters and the role *name* passes through untouched.
        The role must therefore have the default path ``/`` (CDK's default).
        """
        return "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + cls.ref(cls.EXECUTION_ROLE_NAME)


@dataclass(frozen=True)
class TrainingPipelineSettings:
    """Everything the training pipeline definition depends on, besides the SDK and code.

    Defaults suit the sample binary-classification model; ``to_dict()`` is the render
    cache key, so every field that changes the rendered JSON must live here.
    """

    pipeline_name: str
    region: str
    model_package_group_name: str
    processing_instance_type: str = "ml.m5.large"
    processing_instance_count: int = 1
    training_instance_type: str = "ml.m5.large"
    training_instance_count: int = 1
    check_instance_type: str = "ml.m5.large"
    volume_size_gb: int = 30
    max_runtime_seconds: int = 3600
    auc_threshold: float = 0.75
    default_approval_status: str = "PendingManualApproval"
    default_trigger_reason: str = "manual"
    step_caching: bool = True
    cache_expire_after: str = "P30D"
    retry_max_attempts: int = 3
    retry_interval_seconds: int = 10
    retry_backoff_rate: float = 2.0
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    hyperparameters: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_HYPERPARAMETERS)))
    input_data_uri: str = "s3://" + Placeholders.ref(Placeholders.DATA_BUCKET) + "/raw/"
    output_prefix: str = "training-pipeline"
    sklearn_version: str = "1.2-1"
    xgboost_version: str = "1.7-1"
    inference_instance_types: tuple[str, ...] = ("ml.m5.large", "ml.m5.xlarge")
    transform_instance_types: tuple[str, ...] = ("ml.m5.large",)

    def __post_init__(self) -> None:  # noqa: PLR0912 - one flat check per field
        """Reject values SageMaker would refuse at deploy or run time, naming the field."""
        # A mutable dict passed by the caller is frozen so the settings stay hashable-ish
        # and nobody changes the cache key after the fact.
        object.__setattr__(self, "hyperparameters", MappingProxyType(dict(self.hyperparameters)))
        object.__setattr__(self, "subnet_ids", tuple(self.subnet_ids))
        object.__setattr__(self, "security_group_ids", tuple(self.security_group_ids))
        errors: list[str] = []
        if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}", self.pipeline_name) and not (
            self.pipeline_name.startswith("${") and self.pipeline_name.endswith("}")
        ):
            errors.append(f"pipeline_name={self.pipeline_name!r}: letters, digits and '-' only")
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", self.region):
            errors.append(f"region={self.region!r}: must be an AWS region such as 'eu-west-1'")
        if not 0.0 <= self.auc_threshold <= 1.0:
            errors.append(f"auc_threshold={self.auc_threshold!r}: must be within [0, 1]")
        if self.default_approval_status not in _APPROVAL_STATUSES:
            errors.append(
                f"default_approval_status={self.default_approval_status!r}: allowed {list(_APPROVAL_STATUSES)}"
            )
        if not _ISO_8601_DURATION.match(self.cache_expire_after):
            errors.append(f"cache_expire_after={self.cache_expire_after!r}: ISO 8601 duration like 'P30D'")
        for name in ("processing_instance_count", "training_instance_count", "retry_max_attempts"):
            if getattr(self, name) < 1:
                errors.append(f"{name}={getattr(self, name)!r}: must be >= 1")
        if bool(self.subnet_ids) != bool(self.security_group_ids):
            errors.append("subnet_ids/security_group_ids: give both or neither")
        if not self.input_data_uri.startswith("s3://"):
            errors.append(f"input_data_uri={self.input_data_uri!r}: must be an s3:// URI")
        if "/" in self.output_prefix.strip("/") or not self.output_prefix.strip("/"):
            # One path segment keeps every S3 key predictable for IAM and lifecycle rules.
            errors.append(f"output_prefix={self.output_prefix!r}: one non-empty path segment")
        for key, value in self.hyperparameters.items():
            if not isinstance(value, str):
                errors.append(f"hyperparameters[{key!r}]={value!r}: built-in XGBoost wants strings")
        if errors:
            raise ValueError("Invalid TrainingPipelineSettings: " + "; ".join(errors))

    def to_dict(self) -> dict[str, Any]:
        """A stable, JSON-able view of the settings (the render cache key)."""
        result: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Mapping):
                value = {k: value[k] for k in sorted(value)}
            elif isinstance(value, tuple):
                value = list(value)
            result[item.name] = value
        return result
