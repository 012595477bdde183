"""Training-pipeline settings of a model (the same pipeline code in every environment that trains)."""

from __future__ import annotations

from pydantic import Field, field_validator

from mlops_config.base import (
    InstanceCount,
    IsoDuration,
    ProcessingInstanceType,
    Settings,
    TrainingInstanceType,
    ascii_fullmatch,
    shown,
)
from mlops_config.model_kind import QualityGate

DEFAULT_BUILDER = "pipeline_defs.training_pipeline:build_training_pipeline"


class TrainingSettings(Settings):
    """How a model is trained. Every value is the default of the matching pipeline parameter."""

    builder: str = Field(
        default=DEFAULT_BUILDER,
        description="'module:function' that builds the training Pipeline; a model's own code points at its module.",
    )
    target_column: str = Field(default="target", min_length=1, max_length=64)
    processing_instance_type: ProcessingInstanceType = "ml.m5.large"
    processing_instance_count: InstanceCount = 1
    training_instance_type: TrainingInstanceType = "ml.m5.xlarge"
    training_instance_count: InstanceCount = 1
    quality_gate: QualityGate | None = Field(
        default=None,
        description="The metric and threshold a new version must meet to be registered; defaults to AUC >= 0.9 for "
        "binary classifiers and is required for the other problem types.",
    )
    hyperparameters: dict[str, str] = Field(
        default_factory=dict,
        description="Overrides of the built-in XGBoost hyperparameters (strings, as the API takes).",
    )
    enable_step_cache: bool = True
    cache_expire_after: IsoDuration = "P30D"
    max_runtime_seconds: int = Field(default=3600, ge=60, le=432000)

    @field_validator("builder")
    @classmethod
    def _builder_path(cls, value: str) -> str:
        if not ascii_fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", value) or len(value) > 256:
            raise ValueError(
                f"{shown(value)} is not a builder path; allowed: 'package.module:function', e.g. {DEFAULT_BUILDER!r}"
            )
        return value
