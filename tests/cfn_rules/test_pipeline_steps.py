"""E9060-E9062: step arguments inside rendered pipeline definitions (transform data type, training volume key,
RegisterModel customer metadata), parsed from the definition's JSON string and its Fn::Sub variables."""

from __future__ import annotations

import json
from typing import Any

from cfn_rules.pipeline_steps import metadata_characters_ok
from tests.cfn_rules.lint_helpers import fired, template

KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _pipeline(steps: list[dict[str, Any]], variables: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    definition = {"Version": "2020-12-01", "Parameters": extra.get("parameters", []), "Steps": steps}
    body: Any = json.dumps(definition)
    if variables is not None:
        body = {"Fn::Sub": [body, variables]}
    return {
        "Type": "AWS::SageMaker::Pipeline",
        "Properties": {
            "PipelineName": "p",
            "RoleArn": "arn:aws:iam::111111111111:role/r",
            "PipelineDefinition": {"PipelineDefinitionBody": body},
        },
    }


def _transform(data_type: Any) -> dict[str, Any]:
    return {
        "Name": "BatchTransform",
        "Type": "Transform",
        "Arguments": {
            "ModelName": "m",
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": "s3://b/in"}}},
        },
    }


INPUT_TYPE = {"Get": "Parameters.InputDataType"}


def _type_parameter(default: str) -> list[dict[str, Any]]:
    return [{"Name": "InputDataType", "Type": "String", "DefaultValue": default}]


def test_transform_reading_an_augmented_manifest_fires_literal_or_by_parameter_default() -> None:
    assert fired(template(P=_pipeline([_transform("AugmentedManifestFile")]))) == ["E9060"]
    by_parameter = _pipeline([_transform(INPUT_TYPE)], parameters=_type_parameter("Converse"))
    assert fired(template(P=by_parameter)) == ["E9060"]


def test_transform_reading_a_prefix_or_a_manifest_passes() -> None:
    assert fired(template(P=_pipeline([_transform("S3Prefix")]))) == []
    assert fired(template(P=_pipeline([_transform(INPUT_TYPE)], parameters=_type_parameter("ManifestFile")))) == []
    # A parameter without a default is decided at start time.
    assert fired(template(P=_pipeline([_transform(INPUT_TYPE)], parameters=[{"Name": "InputDataType"}]))) == []


def _training(volume_key: str) -> dict[str, Any]:
    return {
        "Name": "Train",
        "Type": "Training",
        "Arguments": {
            "ResourceConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 30,
                "VolumeKmsKeyId": volume_key,
            },
            "OutputDataConfig": {"S3OutputPath": "s3://b/out", "KmsKeyId": "${KeyAlias}"},
        },
    }


def _in_condition(step: dict[str, Any]) -> dict[str, Any]:
    return {"Name": "Check", "Type": "Condition", "Arguments": {"Conditions": [], "IfSteps": [step], "ElseSteps": []}}


def test_training_volume_key_given_as_an_alias_fires() -> None:
    assert fired(template(P=_pipeline([_training("alias/mlops-dev-data")]))) == ["E9061"]
    alias_arn = "arn:aws:kms:eu-west-1:111111111111:alias/mlops-dev-data"
    assert fired(template(P=_pipeline([_in_condition(_training("${Key}"))], {"Key": alias_arn}))) == ["E9061"]
    by_ref = {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/a", "TargetKeyId": "k"}}
    assert fired(template(Alias=by_ref, P=_pipeline([_training("${Key}")], {"Key": {"Ref": "Alias"}}))) == ["E9061"]
    tuning = {
        "Name": "Tune",
        "Type": "Tuning",
        "Arguments": {"TrainingJobDefinition": {"HyperParameterTuningResourceConfig": {"VolumeKmsKeyId": "alias/k"}}},
    }
    assert fired(template(P=_pipeline([tuning]))) == ["E9061"]
    joined = {"Fn::Join": ["", ["arn:aws:kms:eu-west-1:", {"Ref": "AWS::AccountId"}, ":alias/mlops-dev-data"]]}
    assert fired(template(P=_pipeline([_training("${Key}")], {"Key": joined}))) == ["E9061"]


def test_training_volume_key_given_as_key_arn_or_id_passes_and_output_keys_may_be_aliases() -> None:
    alias_arn = "arn:aws:kms:eu-west-1:111111111111:alias/mlops-dev-data"
    assert fired(template(P=_pipeline([_training(KEY_ARN)]))) == []
    assert fired(template(P=_pipeline([_training("1234abcd-12ab-34cd-56ef-1234567890ab")]))) == []
    # OutputDataConfig.KmsKeyId takes aliases; the volume key comes from an SSM parameter holding the key ARN.
    ssm = {"Ref": "KeyArnParameter"}
    assert fired(template(P=_pipeline([_training("${Key}")], {"Key": ssm, "KeyAlias": alias_arn}))) == []


def _register(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": "RegisterModel-RegisterModel",
        "Type": "RegisterModel",
        "Arguments": {"ModelPackageGroupName": "g", "CustomerMetadataProperties": metadata},
    }


def test_customer_metadata_over_50_entries_or_with_bad_keys_or_values_fires() -> None:
    too_many = {f"Key{i}": "v" for i in range(51)}
    assert fired(template(P=_pipeline([_register(too_many)]))) == ["E9062"]
    assert fired(template(P=_pipeline([_register({"k" * 129: "v"})]))) == ["E9062"]
    assert fired(template(P=_pipeline([_register({"Baseline": "s3://b/" + "x" * 251})]))) == ["E9062"]
    assert fired(template(P=_pipeline([_register({"Digest": "sha256:{abc}"})]))) == ["E9062"]
    assert fired(template(P=_pipeline([_in_condition(_register({"Empty": ""}))]))) == ["E9062"]


def test_customer_metadata_within_the_limits_passes_placeholders_and_expressions_included() -> None:
    metadata = {
        "TrainingBaselineS3Uri": "s3://${ArtifactBucket}/breast-cancer/baselines/train.csv",
        "ModelArtifactSha256": {"Std:JsonGet": {"Path": "model_artifact.sha256", "PropertyFile": "Digest"}},
        "Owner email": "ml-team@example.com",
    }
    doc = template(P=_pipeline([_in_condition(_register(metadata))], {"ArtifactBucket": {"Ref": "Bucket"}}))
    assert fired(doc) == []
    assert fired(template(P=_pipeline([_register({f"Key{i}": "v" for i in range(50)})]))) == []


def test_metadata_characters_are_letters_separators_numbers_and_the_listed_punctuation() -> None:
    assert metadata_characters_ok("Modèle 3 _.:/=+-@")
    assert not metadata_characters_ok("a,b")
    assert not metadata_characters_ok("${x}")
