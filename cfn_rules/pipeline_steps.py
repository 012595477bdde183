"""Step arguments inside rendered SageMaker pipeline definitions that SageMaker rejects when the step runs.

Step arguments go to the service APIs (CreateTransformJob, CreateTrainingJob, CreateModelPackage) only when an
execution reaches the step, so these mistakes surface late in a run, after the steps before them. The body is
parsed from its JSON string as E9002 does; ``${Var}`` placeholders are resolved from the ``Fn::Sub`` variable map
and ``{"Get": "Parameters.X"}`` from the parameter's default value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import (
    pipeline_body,
    pipeline_steps,
    properties,
    referenced_id,
    resources,
    step_arguments,
    sub_variables,
    walk,
)

_PLACEHOLDER = re.compile(r"\$\{([^}!][^}]*)\}")
UNKNOWN = object()  # a value the template cannot tell (a parameter without default, a cross-stack reference)


def _pipelines(template: Mapping[str, Any]) -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    """(logical id, parsed definition, Fn::Sub variables) of every pipeline with an inline definition."""
    for logical_id, resource in resources(template, "AWS::SageMaker::Pipeline"):
        props = properties(resource)
        definition = pipeline_body(props)
        if definition is not None:
            body = props.get("PipelineDefinition")
            variables = sub_variables(body.get("PipelineDefinitionBody")) if isinstance(body, Mapping) else {}
            yield logical_id, definition, variables


def parameter_value(definition: Any, value: Any) -> Any:
    """A step argument with ``{"Get": "Parameters.X"}`` replaced by the parameter's default (UNKNOWN if none)."""
    if not (isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get("Get"), str)):
        return value
    reference = str(value["Get"])
    if not reference.startswith("Parameters."):
        return UNKNOWN
    name = reference.split(".", 1)[1]
    for parameter in definition.get("Parameters") or [] if isinstance(definition, Mapping) else []:
        if isinstance(parameter, Mapping) and parameter.get("Name") == name:
            return parameter.get("DefaultValue", UNKNOWN)
    return UNKNOWN


def _where(logical_id: str, step: Mapping[str, Any]) -> str:
    return f"{logical_id} step {step.get('Name')!r}"


# --- E9060 -----------------------------------------------------------------------------------------------------

TRANSFORM_DATA_TYPES = ("S3Prefix", "ManifestFile")


class TransformS3DataType(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A pipeline Transform step reads its input as ``S3Prefix`` or ``ManifestFile``.

    AWS doc: API reference "TransformS3DataSource", ``S3DataType``: the compatible values are ``ManifestFile`` and
    ``S3Prefix``; ``AugmentedManifestFile`` (which the shared ``S3DataType`` enum also lists, with ``Converse``)
    is not compatible with batch transform. Checked on the literal value or the pipeline parameter's default.
    """

    id = "E9060"
    shortdesc = "Transform step S3DataType other than S3Prefix or ManifestFile"
    description = "Batch transform accepts S3DataType S3Prefix or ManifestFile only"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformS3DataSource.html"
    tags = ["mlops", "sagemaker", "pipeline"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every Transform step of every inline pipeline definition."""
        matches = []
        for logical_id, definition, _ in _pipelines(cfn.template):
            for step in pipeline_steps(definition):
                if step.get("Type") != "Transform":
                    continue
                transform_input = step_arguments(step).get("TransformInput")
                data = transform_input.get("DataSource") if isinstance(transform_input, Mapping) else None
                source = data.get("S3DataSource") if isinstance(data, Mapping) else None
                if not isinstance(source, Mapping):
                    continue
                value = parameter_value(definition, source.get("S3DataType"))
                if isinstance(value, str) and value not in TRANSFORM_DATA_TYPES:
                    matches.append(
                        RuleMatch(
                            ["Resources", logical_id, "Properties", "PipelineDefinition"],
                            f"{_where(logical_id, step)}: S3DataType {value!r}; batch transform accepts "
                            f"{' or '.join(TRANSFORM_DATA_TYPES)} (TransformS3DataSource)",
                        )
                    )
        return matches


# --- E9061 -----------------------------------------------------------------------------------------------------


RESOURCE_CONFIGS = ("ResourceConfig", "HyperParameterTuningResourceConfig")


def _alias_in(value: Any, template: Mapping[str, Any]) -> bool:
    """Whether a template value (literal, Ref/GetAtt, Join/Sub) evidently names a KMS alias."""
    if isinstance(value, str):
        return value.startswith("alias/") or ":alias/" in value
    target = referenced_id(value)
    if target is not None:
        resource = (template.get("Resources") or {}).get(target)
        return isinstance(resource, Mapping) and resource.get("Type") == "AWS::KMS::Alias"
    if isinstance(value, Mapping) and ("Fn::Join" in value or "Fn::Sub" in value):
        return any(isinstance(node, str) and ("alias/" in node) for _, node in walk(value))
    return False


def volume_key_is_alias(value: Any, variables: Mapping[str, Any], template: Mapping[str, Any]) -> bool:
    """Whether a VolumeKmsKeyId in a pipeline definition resolves to an alias name or alias ARN."""
    if not isinstance(value, str):
        return False
    if _alias_in(_PLACEHOLDER.sub("", value), template):
        return True
    return any(_alias_in(variables.get(name), template) for name in _PLACEHOLDER.findall(value))


class TrainingVolumeKeyNotAlias(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A training job's ``ResourceConfig.VolumeKmsKeyId`` is a key ID or key ARN, never an alias.

    AWS doc: API reference "ResourceConfig", ``VolumeKmsKeyId``: it can be a KMS key ID or the ARN of a KMS key
    (unlike ``OutputDataConfig.KmsKeyId``, which also lists alias names and alias ARNs); the API reference
    "HyperParameterTuningResourceConfig" says the same for tuning jobs (both as in the installed botocore service
    model). Checked on Training and Tuning steps of pipeline definitions, literal or through ``${Var}`` placeholders
    (an alias literal, a Ref to an ``AWS::KMS::Alias``, a Join/Sub with ``alias/``). No CloudFormation resource
    type of this template family carries a training ResourceConfig.
    """

    id = "E9061"
    shortdesc = "Training VolumeKmsKeyId given as a KMS alias"
    description = "ResourceConfig.VolumeKmsKeyId takes a key ID or key ARN, not an alias"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html"
    tags = ["mlops", "sagemaker", "kms"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """The ResourceConfig of every Training step and tuning job definition."""
        matches = []
        for logical_id, definition, variables in _pipelines(cfn.template):
            for step in pipeline_steps(definition):
                if step.get("Type") not in ("Training", "Tuning"):
                    continue
                for _, node in walk(step_arguments(step)):
                    for key in RESOURCE_CONFIGS:
                        config = node.get(key) if isinstance(node, Mapping) else None
                        if not isinstance(config, Mapping):
                            continue
                        value = parameter_value(definition, config.get("VolumeKmsKeyId"))
                        if volume_key_is_alias(value, variables, cfn.template):
                            matches.append(
                                RuleMatch(
                                    ["Resources", logical_id, "Properties", "PipelineDefinition"],
                                    f"{_where(logical_id, step)}: {key}.VolumeKmsKeyId {value!r} is a KMS alias; "
                                    "use the key ID or key ARN (ResourceConfig, VolumeKmsKeyId)",
                                )
                            )
        return matches


# --- E9062 -----------------------------------------------------------------------------------------------------

METADATA_MAX_ENTRIES, METADATA_KEY_MAX, METADATA_VALUE_MAX = 50, 128, 256
_METADATA_PUNCTUATION = frozenset("_.:/=+-@")


def metadata_characters_ok(text: str) -> bool:
    """Whether ``text`` holds only letters, separators (spaces), numbers and ``_.:/=+-@`` (the API pattern)."""
    return all(char in _METADATA_PUNCTUATION or unicodedata.category(char)[0] in ("L", "Z", "N") for char in text)


def metadata_problems(properties_: Mapping[str, Any], variables: Mapping[str, Any]) -> list[str]:
    """What breaks the CustomerMetadataProperties constraints; ``${Var}`` placeholders count as their value."""
    problems = []
    if len(properties_) > METADATA_MAX_ENTRIES:
        problems.append(f"{len(properties_)} entries, over {METADATA_MAX_ENTRIES}")

    def text(value: str) -> str:
        return _PLACEHOLDER.sub(
            lambda m: str(variables[m.group(1)]) if isinstance(variables.get(m.group(1)), str) else "x", value
        )

    for key, value in properties_.items():
        if not 1 <= len(key) <= METADATA_KEY_MAX or not metadata_characters_ok(key):
            problems.append(f"key {key!r} is not 1-{METADATA_KEY_MAX} letters, digits, spaces or _.:/=+-@")
        if isinstance(value, str):
            resolved = text(value)
            if not 1 <= len(resolved) <= METADATA_VALUE_MAX or not metadata_characters_ok(resolved):
                problems.append(
                    f"value of {key!r} ({resolved[:60]!r}) is not 1-{METADATA_VALUE_MAX} letters, digits, spaces "
                    "or _.:/=+-@"
                )
    return problems


class RegisterModelCustomerMetadata(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """``CustomerMetadataProperties`` of a RegisterModel step: at most 50 entries, keys 1-128 and values 1-256
    characters of letters, spaces, digits and ``_.:/=+-@``.

    AWS doc: API reference "CreateModelPackage", ``CustomerMetadataProperties`` (shape ``CustomerMetadataMap``:
    1-50 entries; key pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`` up to 128 characters, value the same up to 256),
    as the botocore service model of the installed SDK gives it. cfn-lint's schema already checks these on
    ``AWS::SageMaker::ModelPackage``; inside a pipeline definition only this rule sees them, and SageMaker
    rejects the package when the step runs, after training. Literal values only (expressions are run-time).
    """

    id = "E9062"
    shortdesc = "RegisterModel CustomerMetadataProperties breaking CreateModelPackage's limits"
    description = "At most 50 entries; keys 1-128, values 1-256 characters of letters, spaces, digits, _.:/=+-@"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html"
    tags = ["mlops", "sagemaker", "pipeline"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every RegisterModel step of every inline pipeline definition."""
        matches = []
        for logical_id, definition, variables in _pipelines(cfn.template):
            for step in pipeline_steps(definition):
                if step.get("Type") != "RegisterModel":
                    continue
                metadata = step_arguments(step).get("CustomerMetadataProperties")
                if not isinstance(metadata, Mapping):
                    continue
                for problem in metadata_problems(metadata, variables):
                    matches.append(
                        RuleMatch(
                            ["Resources", logical_id, "Properties", "PipelineDefinition"],
                            f"{_where(logical_id, step)}: CustomerMetadataProperties {problem} (CreateModelPackage)",
                        )
                    )
        return matches
