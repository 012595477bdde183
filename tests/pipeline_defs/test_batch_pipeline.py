"""The batch-inference pipeline definition: steps, encryption, isolation, capture, placeholders, API validity."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_constructs.sagemaker_pipeline import placeholders_in
from pipeline_defs.batch_settings import BatchPipelineSettings, render_batch_definition
from pipeline_defs.render import escape_for_fn_sub
from tests.pipeline_defs.botocore_shapes import validate_step_arguments

PACKAGE = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3"


def make_settings(**overrides: Any) -> BatchPipelineSettings:
    values: dict[str, Any] = {
        "pipeline_name": "mlops-prod-breast-cancer-batch",
        "region": "eu-west-1",
        "model_package_arn": PACKAGE,
        "input_prefix": "breast-cancer/batch/input/",
        "output_prefix": "breast-cancer/batch/output/",
        "capture_prefix": "breast-cancer/batch/",
    }
    values.update(overrides)
    return BatchPipelineSettings(**values)


@pytest.fixture(scope="module")
def rendered() -> str:
    return render_batch_definition(make_settings(), cache_dir=None)


@pytest.fixture(scope="module")
def steps(rendered: str) -> dict[str, dict[str, Any]]:
    return {step["Name"]: step for step in json.loads(rendered)["Steps"]}


def test_step_graph(steps: dict[str, dict[str, Any]]) -> None:
    assert {name: step["Type"] for name, step in steps.items()} == {
        "CreateServedModel": "Model",
        "BatchTransform": "Transform",
    }
    assert steps["BatchTransform"]["Arguments"]["ModelName"] == {"Get": "Steps.CreateServedModel.ModelName"}


@pytest.mark.parametrize("name", ["CreateServedModel", "BatchTransform"])
def test_every_step_is_a_valid_api_request(steps: dict[str, dict[str, Any]], name: str) -> None:
    validate_step_arguments(steps[name])


def test_model_is_the_promoted_copy_network_isolated(steps: dict[str, dict[str, Any]]) -> None:
    arguments = steps["CreateServedModel"]["Arguments"]
    # The promoted copy (deploy-time values), never the registry's package; no container environment.
    assert arguments["PrimaryContainer"] == {"Image": "${ModelImage}", "ModelDataUrl": "${ModelDataUrl}"}
    assert arguments["EnableNetworkIsolation"] is True
    assert arguments["ExecutionRoleArn"] == "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ExecutionRoleName}"
    assert "VpcConfig" not in arguments


def test_transform_reads_the_prefix_and_writes_encrypted_per_execution(steps: dict[str, dict[str, Any]]) -> None:
    arguments = steps["BatchTransform"]["Arguments"]
    assert arguments["TransformInput"]["DataSource"]["S3DataSource"] == {
        "S3Uri": {"Get": "Parameters.InputDataUri"},
        "S3DataType": {"Get": "Parameters.InputDataType"},
    }
    assert arguments["TransformInput"]["SplitType"] == "Line"
    output = arguments["TransformOutput"]
    assert output["KmsKeyId"] == "${KmsKeyArn}"
    assert output["S3OutputPath"] == {
        "Std:Join": {
            "On": "/",
            "Values": ["s3:/", "${DataBucket}", "breast-cancer/batch/output", {"Get": "Execution.PipelineExecutionId"}],
        }
    }
    assert arguments["TransformResources"]["VolumeKmsKeyId"] == "${KmsKeyArn}"
    assert arguments["DataCaptureConfig"] == {
        "DestinationS3Uri": "s3://${CaptureBucket}/breast-cancer/batch",
        "KmsKeyId": "${KmsKeyArn}",
        "GenerateInferenceId": True,
    }


def test_parameters_default_to_the_input_prefix(rendered: str) -> None:
    parameters = {p["Name"]: p["DefaultValue"] for p in json.loads(rendered)["Parameters"]}
    assert parameters == {
        "InputDataUri": "s3://${DataBucket}/breast-cancer/batch/input/",
        "InputDataType": "S3Prefix",
        "TriggerReason": "manual",
    }


def test_input_type_is_a_prefix_or_a_manifest_and_nothing_else(rendered: str) -> None:
    (declared,) = [p for p in json.loads(rendered)["Parameters"] if p["Name"] == "InputDataType"]
    # The two S3DataType values CreateTransformJob accepts for a transform input (AugmentedManifestFile is not).
    assert declared["EnumValues"] == ["S3Prefix", "ManifestFile"]


@pytest.mark.parametrize(
    ("data_type", "uri"),
    [
        ("S3Prefix", "s3://bucket/breast-cancer/batch/input/"),
        ("ManifestFile", "s3://bucket/breast-cancer/batch/manifests/0123abcd.manifest"),
    ],
)
def test_the_transform_is_valid_for_both_inputs_a_window_passes(
    steps: dict[str, dict[str, Any]], data_type: str, uri: str
) -> None:
    step = json.loads(json.dumps(steps["BatchTransform"]))
    step["Arguments"]["TransformInput"]["DataSource"]["S3DataSource"] = {"S3Uri": uri, "S3DataType": data_type}
    validate_step_arguments(step)


def test_placeholders_are_exactly_what_the_construct_substitutes(rendered: str) -> None:
    assert placeholders_in(rendered) == {
        "ExecutionRoleName",
        "DataBucket",
        "KmsKeyArn",
        "CaptureBucket",
        "ModelImage",
        "ModelDataUrl",
    }
    assert "${!CaptureBucket}" not in rendered


def test_the_renderer_keeps_only_the_declared_placeholders() -> None:
    declared = frozenset({"CaptureBucket"})
    assert escape_for_fn_sub("${CaptureBucket} ${Other}", declared) == "${CaptureBucket} ${!Other}"
    assert escape_for_fn_sub("${CaptureBucket}") == "${!CaptureBucket}"  # not a training-pipeline placeholder


def test_instance_storage_and_vpc() -> None:
    steps = {
        step["Name"]: step
        for step in json.loads(
            render_batch_definition(
                make_settings(
                    instance_type="ml.m5d.large",
                    volume_kms=False,
                    subnet_ids=("subnet-0123456789abcdef0",),
                    security_group_ids=("sg-0123456789abcdef0",),
                ),
                cache_dir=None,
            )
        )["Steps"]
    }
    assert "VolumeKmsKeyId" not in steps["BatchTransform"]["Arguments"]["TransformResources"]
    assert steps["CreateServedModel"]["Arguments"]["VpcConfig"] == {
        "Subnets": ["subnet-0123456789abcdef0"],
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
    }
    for step in steps.values():
        validate_step_arguments(step)


def test_rendering_is_deterministic(rendered: str) -> None:
    assert render_batch_definition(make_settings(), cache_dir=None) == rendered


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"model_package_arn": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/group"}, "model_package_arn"),
        ({"output_prefix": "breast-cancer/batch/input/results/"}, "input_prefix/output_prefix"),
        ({"input_prefix": "/abs/"}, "input_prefix"),
        ({"subnet_ids": ("subnet-0123456789abcdef0",)}, "subnet_ids/security_group_ids"),
        ({"instance_count": 0}, "instance_count"),
        ({"region": "moon-1"}, "region"),
    ],
)
def test_bad_settings_are_rejected_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"Invalid BatchPipelineSettings: .*{field}"):
        make_settings(**overrides)
