"""Typed, frozen settings for the training pipeline definition.

Deploy-time values (role, buckets, KMS key, step-script asset URIs) are CloudFormation
tokens at synth time, so the definition holds ``${Name}`` placeholders for them and the
CDK construct resolves them with ``Fn::Sub``. Every placeholder name lives in
:class:`Placeholders`, the single source of truth for both sides.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")
# Where each quality metric sits in the evaluation report (SageMaker's model-quality metrics JSON layout, AWS doc
# "Model quality metrics and Amazon CloudWatch monitoring": binary_classification_metrics /
# multiclass_classification_metrics / regression_metrics, each metric as {"value", "standard_deviation"}).
# Multiclass F1 is macro-averaged (mlops_config.model_kind.METRICS); AWS's report has only weighted F-scores, so the
# report carries it under its own key, ``macro_f1``, next to AWS's ``weighted_f1``.
REPORT_METRIC_KEYS: dict[str, dict[str, str]] = {
    "binary_classification": {"auc": "auc", "accuracy": "accuracy", "f1": "f1"},
    "multiclass_classification": {"accuracy": "accuracy", "f1": "macro_f1"},
    "regression": {"rmse": "rmse", "mae": "mae", "r2": "r2"},
}
LOWER_IS_BETTER = frozenset({"rmse", "mae"})
_BOUNDED = frozenset({"auc", "accuracy", "f1"})


def report_json_path(problem_type: str, metric: str) -> str:
    """The JSON path of ``metric``'s value in a ``problem_type`` evaluation report."""
    return f"{problem_type}_metrics.{REPORT_METRIC_KEYS[problem_type][metric]}.value"


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

    @staticmethod
    def script_bucket(script: str) -> str:
        """The bucket placeholder of a builder's step script called ``script`` (``preprocess`` ->
        ``PreprocessScriptBucket``, as ``PREPROCESS_SCRIPT_BUCKET``)."""
        return f"{script.capitalize()}ScriptBucket"

    @staticmethod
    def script_key(script: str) -> str:
        """The object-key placeholder of a builder's step script called ``script``."""
        return f"{script.capitalize()}ScriptKey"

    @classmethod
    def base(cls) -> frozenset[str]:
        """The placeholders every training pipeline may use besides its step scripts'."""
        return frozenset({cls.EXECUTION_ROLE_NAME, cls.DATA_BUCKET, cls.ARTIFACT_BUCKET, cls.KMS_KEY_ARN})

    @classmethod
    def for_scripts(cls, scripts: Iterable[str]) -> frozenset[str]:
        """The placeholders of a training pipeline whose builder ships ``scripts``."""
        return cls.base() | {name for script in scripts for name in (cls.script_bucket(script), cls.script_key(script))}

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
class ImageRef:
    """A container image a pipeline step runs in: an AWS framework image (``framework`` and ``version``, resolved
    from the SDK's bundled registry when the definition is rendered) or a user ``uri``."""

    framework: str | None = None
    version: str | None = None
    uri: str | None = None

    def __post_init__(self) -> None:
        """Exactly one kind of image."""
        if (self.uri is None) == (self.framework is None or self.version is None) or (
            self.uri is not None and (self.framework or self.version)
        ):
            raise ValueError(f"ImageRef: give framework and version, or uri; got {self}")

    def image_uri(self, region: str, scope: str = "training") -> str:
        """The image URI in ``region`` (imports the SDK for a framework image: call while rendering)."""
        if self.uri is not None:
            return self.uri
        from sagemaker.core import image_uris

        uri: str = image_uris.retrieve(framework=self.framework, region=region, version=self.version, image_scope=scope)
        return uri


XGBOOST_1_7 = ImageRef(framework="xgboost", version="1.7-1")
SKLEARN_1_2 = ImageRef(framework="sklearn", version="1.2-1")


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
    problem_type: str = "binary_classification"
    # The registration gate: ``quality_metric`` of the Evaluate step's report must reach ``quality_threshold``
    # (at or above it; at or below it for the error metrics in ``LOWER_IS_BETTER``).
    quality_metric: str = "auc"
    quality_threshold: float = 0.75
    default_approval_status: str = "PendingManualApproval"
    default_trigger_reason: str = "manual"
    step_caching: bool = True
    cache_expire_after: str = "P30D"
    retry_max_attempts: int = 3
    retry_interval_seconds: int = 10
    retry_backoff_rate: float = 2.0
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    # The model's overrides of its builder's default hyperparameters (strings, as the API takes them).
    hyperparameters: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    input_data_uri: str = "s3://" + Placeholders.ref(Placeholders.DATA_BUCKET) + "/raw/"
    output_prefix: str = "training-pipeline"
    # What trains, processes and serves the model; ``processing_image`` None leaves every processing step in the
    # image its builder chose for it (``pipeline_defs.builder_code.BuilderCode``).
    training_image: ImageRef = XGBOOST_1_7
    processing_image: ImageRef | None = None
    serving_image: ImageRef = XGBOOST_1_7
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
        if self.problem_type not in PROBLEM_TYPES:
            errors.append(f"problem_type={self.problem_type!r}: allowed {list(PROBLEM_TYPES)}")
        elif self.quality_metric not in REPORT_METRIC_KEYS[self.problem_type]:
            errors.append(
                f"quality_metric={self.quality_metric!r}: allowed for {self.problem_type} "
                f"{list(REPORT_METRIC_KEYS[self.problem_type])}"
            )
        if self.quality_metric in _BOUNDED and not 0.0 <= self.quality_threshold <= 1.0:
            errors.append(f"quality_threshold={self.quality_threshold!r}: must be within [0, 1]")
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
                errors.append(f"hyperparameters[{key!r}]={value!r}: hyperparameters are strings")
        if errors:
            raise ValueError("Invalid TrainingPipelineSettings: " + "; ".join(errors))

    @property
    def gate_lower_is_better(self) -> bool:
        """Whether the gate passes at or below the threshold (error metrics)."""
        return self.quality_metric in LOWER_IS_BETTER

    def to_dict(self) -> dict[str, Any]:
        """A stable, JSON-able view of the settings (the render cache key)."""
        result: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Mapping):
                value = {k: value[k] for k in sorted(value)}
            elif isinstance(value, ImageRef):
                value = dataclasses.asdict(value)
            elif isinstance(value, tuple):
                value = list(value)
            result[item.name] = value
        return result
