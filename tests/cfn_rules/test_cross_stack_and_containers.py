"""E9001 (Fn::GetStackOutput in an Fn::Sub variable map), E9002 (empty script-mode variables), E9003 (opt-in)."""

from __future__ import annotations

import json
from typing import Any

from tests.cfn_rules.lint_helpers import findings, fired, template

KEY_OUTPUT = {"Fn::GetStackOutput": {"StackName": "mlops-dev-data", "Region": "eu-west-1", "OutputName": "KeyArn"}}
ALIAS_ARN = "arn:aws:kms:eu-west-1:111111111111:alias/mlops-dev-data"


def _pipeline(body: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::SageMaker::Pipeline",
        "Properties": {
            "PipelineName": "p",
            "RoleArn": "arn:aws:iam::111111111111:role/r",
            "PipelineDefinition": {"PipelineDefinitionBody": body},
        },
    }


def test_get_stack_output_in_a_sub_variable_map_fires() -> None:
    doc = template(Pipeline=_pipeline({"Fn::Sub": ['{"Key": "${KmsKeyArn}"}', {"KmsKeyArn": KEY_OUTPUT}]}))
    assert fired(doc) == ["E9001"]
    assert "KmsKeyArn" in findings(doc)[0][1]


def test_get_stack_output_nested_deeper_in_the_variable_map_fires() -> None:
    value = {"Fn::Join": ["", ["prefix-", KEY_OUTPUT]]}
    doc = template(Pipeline=_pipeline({"Fn::Sub": ['{"Key": "${KmsKeyArn}"}', {"KmsKeyArn": value}]}))
    assert fired(doc) == ["E9001"]


def test_a_derived_alias_arn_or_import_value_in_the_variable_map_passes() -> None:
    alias = template(Pipeline=_pipeline({"Fn::Sub": ['{"Key": "${KmsKeyArn}"}', {"KmsKeyArn": ALIAS_ARN}]}))
    imported = template(
        Pipeline=_pipeline({"Fn::Sub": ['{"Key": "${KmsKeyArn}"}', {"KmsKeyArn": {"Fn::ImportValue": "KeyArn"}}]})
    )
    # Outside a variable map Fn::GetStackOutput is fine (a property value of its own).
    direct = template(
        Queue={"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": KEY_OUTPUT}},
    )
    assert fired(alias) == fired(imported) == fired(direct) == []


def _register_step(environment: dict[str, str]) -> dict[str, Any]:
    return {
        "Name": "RegisterModel",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": "g",
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                        "Environment": environment,
                        "ModelDataUrl": "s3://b/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
            },
        },
    }


def _pipeline_with_condition(environment: dict[str, str]) -> dict[str, Any]:
    definition = {
        "Version": "2020-12-01",
        "Steps": [
            {"Name": "Train", "Type": "Training", "Arguments": {"Environment": {"SAGEMAKER_PROGRAM": ""}}},
            {
                "Name": "CheckAucThreshold",
                "Type": "Condition",
                "Arguments": {"Conditions": [], "IfSteps": [_register_step(environment)], "ElseSteps": []},
            },
        ],
    }
    return _pipeline({"Fn::Sub": [json.dumps(definition), {"Bucket": "b"}]})


def test_register_model_step_with_empty_script_mode_variables_fires_once_per_key() -> None:
    doc = template(Pipeline=_pipeline_with_condition({"SAGEMAKER_PROGRAM": "", "SAGEMAKER_SUBMIT_DIRECTORY": ""}))
    result = findings(doc)
    assert [rule for rule, _ in result] == ["E9002", "E9002"]
    assert all("'RegisterModel'" in message for _, message in result)


def test_register_model_step_with_a_clean_environment_passes() -> None:
    # The training step's own "Environment" is not a model container and is not judged.
    doc = template(Pipeline=_pipeline_with_condition({"SAGEMAKER_CONTAINER_LOG_LEVEL": "20"}))
    assert fired(doc) == []


def _model(environment: dict[str, str]) -> dict[str, Any]:
    return {
        "Type": "AWS::SageMaker::Model",
        "Properties": {
            "ExecutionRoleArn": "arn:aws:iam::111111111111:role/r",
            "PrimaryContainer": {"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz", "Environment": environment},
        },
    }


def test_model_container_with_empty_program_fires_and_script_mode_with_a_module_passes() -> None:
    assert fired(template(Model=_model({"SAGEMAKER_PROGRAM": ""}))) == ["E9002"]
    assert fired(template(Model=_model({"SAGEMAKER_PROGRAM": "inference.py"}))) == []
    assert fired(template(Model=_model({}))) == []


def _function(**extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Code": {"ZipFile": "def handler(event, context): pass"},
            "Role": "arn:aws:iam::111111111111:role/r",
            "Handler": "index.handler",
            "Runtime": "python3.12",
            **extra,
        },
    }


def test_reserved_concurrency_without_opt_in_fires() -> None:
    doc = template(Fn=_function(ReservedConcurrentExecutions=1))
    assert fired(doc) == ["E9003"]


def test_reserved_concurrency_with_the_opt_in_metadata_or_none_passes() -> None:
    opted = template(
        Fn={**_function(ReservedConcurrentExecutions=5), "Metadata": {"mlops": {"opt_in": ["reserved-concurrency"]}}}
    )
    other_opt_in = template(
        Fn={**_function(ReservedConcurrentExecutions=5), "Metadata": {"mlops": {"opt_in": ["other"]}}}
    )
    assert fired(opted) == []
    assert fired(template(Fn=_function())) == []
    assert fired(other_opt_in) == ["E9003"]
