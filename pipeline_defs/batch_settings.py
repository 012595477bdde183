"""Typed, frozen settings for the batch-inference pipeline definition.

Deploy-time values use the shared ``${Name}`` placeholders of ``pipeline_defs.settings.Placeholders`` (role, data
bucket, KMS key) plus one of this pipeline's own, ``${CaptureBucket}``, which the renderer is told about.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_defs.render import DEFAULT_CACHE_DIR, render_definition
from pipeline_defs.settings import Placeholders

BUILDER = "pipeline_defs.batch_pipeline:build_batch_pipeline"

_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[a-zA-Z0-9-]+/\d+$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]+/$")


class BatchPlaceholders:
    """Placeholders only the batch pipeline uses (in addition to :class:`Placeholders`)."""

    CAPTURE_BUCKET = "CaptureBucket"
    # The promoted copy of the served model (image and ModelDataUrl in this environment's own bucket).
    MODEL_IMAGE = "ModelImage"
    MODEL_DATA_URL = "ModelDataUrl"

    @classmethod
    def all(cls) -> frozenset[str]:
        """Every batch-only placeholder."""
        return frozenset({cls.CAPTURE_BUCKET, cls.MODEL_IMAGE, cls.MODEL_DATA_URL})


@dataclass(frozen=True)
class BatchPipelineSettings:
    """Everything the batch pipeline definition depends on; ``to_dict()`` is the render cache key.

    The served package is named in the definition (lineage) and its promoted copy is substituted at deploy
    (``BatchPlaceholders.MODEL_IMAGE`` / ``MODEL_DATA_URL``): a new approved version is a new definition,
    deployed with the endpoint, so batch and real-time always serve the same version.
    """

    pipeline_name: str
    region: str
    model_package_arn: str
    input_prefix: str
    output_prefix: str
    capture_prefix: str
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    volume_kms: bool = True
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    max_payload_mb: int = 6
    max_concurrent_transforms: int = 1
    default_trigger_reason: str = "manual"
    retry_max_attempts: int = 3
    retry_interval_seconds: int = 10
    retry_backoff_rate: float = 2.0

    def __post_init__(self) -> None:
        """Reject values SageMaker would refuse at deploy or run time, naming the field."""
        object.__setattr__(self, "subnet_ids", tuple(self.subnet_ids))
        object.__setattr__(self, "security_group_ids", tuple(self.security_group_ids))
        errors: list[str] = []
        if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}", self.pipeline_name):
            errors.append(f"pipeline_name={self.pipeline_name!r}: letters, digits and '-' only")
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", self.region):
            errors.append(f"region={self.region!r}: must be an AWS region such as 'eu-west-1'")
        if not _PACKAGE_ARN.match(self.model_package_arn):
            errors.append(f"model_package_arn={self.model_package_arn!r}: a versioned model package ARN")
        for name in ("input_prefix", "output_prefix", "capture_prefix"):
            value = getattr(self, name)
            if not _PREFIX.match(value) or value.startswith("/") or "//" in value:
                errors.append(f"{name}={value!r}: a relative S3 prefix ending with '/'")
        if self.input_prefix.startswith(self.output_prefix) or self.output_prefix.startswith(self.input_prefix):
            errors.append("input_prefix/output_prefix: must not contain each other (outputs would be re-read)")
        if not self.instance_type.startswith("ml."):
            errors.append(f"instance_type={self.instance_type!r}: an ml.* instance type")
        for name in ("instance_count", "max_concurrent_transforms", "retry_max_attempts"):
            if getattr(self, name) < 1:
                errors.append(f"{name}={getattr(self, name)!r}: must be >= 1")
        if not 0 <= self.max_payload_mb <= 100:
            errors.append(f"max_payload_mb={self.max_payload_mb!r}: 0-100 MB")
        if bool(self.subnet_ids) != bool(self.security_group_ids):
            errors.append("subnet_ids/security_group_ids: give both or neither")
        if errors:
            raise ValueError("Invalid BatchPipelineSettings: " + "; ".join(errors))

    @property
    def input_uri(self) -> str:
        """Where the files to score are read from."""
        return f"s3://{Placeholders.ref(Placeholders.DATA_BUCKET)}/{self.input_prefix}"

    def to_dict(self) -> dict[str, Any]:
        """A stable, JSON-able view of the settings (the render cache key)."""
        return {
            item.name: list(value) if isinstance(value := getattr(self, item.name), tuple) else value
            for item in dataclasses.fields(self)
        }


def render_batch_definition(settings: BatchPipelineSettings, cache_dir: Path | str | None = DEFAULT_CACHE_DIR) -> str:
    """Canonical JSON of the batch pipeline, ready for ``Fn::Sub`` (a cache hit never imports the SDK)."""
    return render_definition(
        BUILDER, settings, cache_dir=cache_dir, placeholders=Placeholders.all() | BatchPlaceholders.all()
    )
