"""Validate pipeline step arguments against botocore's SageMaker service model.

Pipeline expressions (``{"Get": ...}``, ``{"Std:Join": ...}``, ``{"Std:JsonGet": ...}``)
are replaced by sample values of the type the API shape expects at that spot, then the
arguments go through ``botocore.validate.ParamValidator`` like a real API call would.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.validate import ParamValidator

# Step Type -> the SageMaker operation its Arguments are the input of.
STEP_TYPE_OPERATIONS = {
    "Processing": "CreateProcessingJob",
    "QualityCheck": "CreateProcessingJob",
    "ClarifyCheck": "CreateProcessingJob",
    "Training": "CreateTrainingJob",
    "Transform": "CreateTransformJob",
    "Tuning": "CreateHyperParameterTuningJob",
    "RegisterModel": "CreateModelPackage",
    "Model": "CreateModel",
}
# Fields the pipeline service fills in at execution time (job names).
_SERVICE_FILLED = {
    "CreateProcessingJob": {"ProcessingJobName": "pipeline-job"},
    "CreateTrainingJob": {"TrainingJobName": "pipeline-job"},
    "CreateTransformJob": {"TransformJobName": "pipeline-job"},
    "CreateModel": {"ModelName": "pipeline-model"},
}
_EXPRESSION_KEYS = {"Get", "Std:Join", "Std:JsonGet"}


def _sagemaker_operation(name: str) -> OperationModel:
    session = botocore.session.get_session()
    return session.get_service_model("sagemaker").operation_model(name)


def is_expression(value: Any) -> bool:
    """Whether ``value`` is a pipeline expression resolved at execution time."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _EXPRESSION_KEYS


def sample_value(shape: Shape) -> Any:  # noqa: PLR0911 - one return per shape type
    """A valid sample value for a scalar (or list) shape."""
    kind = shape.type_name
    if kind == "string":
        enum = shape.metadata.get("enum")
        if enum:
            return enum[0]
        if shape.name.endswith("Arn") or "Arn" in shape.name:
            return "arn:aws:sagemaker:eu-west-1:111122223333:resource/sample"
        if "S3" in shape.name or "Uri" in shape.name:
            return "s3://sample-bucket/sample/key"
        return "sample"
    if kind in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if kind in ("float", "double"):
        return 0.5
    if kind == "boolean":
        return True
    if kind == "list":
        assert isinstance(shape, ListShape)
        return [sample_value(shape.member)]
    raise AssertionError(f"no sample value for an expression in place of a {kind} ({shape.name})")


def substitute_expressions(value: Any, shape: Shape) -> Any:
    """``value`` with every pipeline expression replaced by a sample of ``shape``'s type."""
    if is_expression(value):
        return sample_value(shape)
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {
            key: substitute_expressions(item, shape.members[key]) if key in shape.members else item
            for key, item in value.items()
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [substitute_expressions(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: substitute_expressions(item, shape.value) for key, item in value.items()}
    return value


def validate_step_arguments(step: dict[str, Any]) -> None:
    """Raise ``AssertionError`` unless ``step["Arguments"]`` is a valid API input for its Type."""
    operation_name = STEP_TYPE_OPERATIONS.get(step["Type"])
    if operation_name is None:
        raise AssertionError(f"step {step['Name']!r}: no API operation known for {step['Type']!r}")
    operation = _sagemaker_operation(operation_name)
    input_shape = operation.input_shape
    assert input_shape is not None
    params = dict(_SERVICE_FILLED.get(operation_name, {}))
    params.update(substitute_expressions(step["Arguments"], input_shape))
    report = ParamValidator().validate(params, input_shape)
    if report.has_errors():
        raise AssertionError(f"step {step['Name']!r} ({operation_name}) is invalid:\n{report.generate_report()}")
