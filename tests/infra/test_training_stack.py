"""The training stack: the rendered pipeline deployed as AWS::SageMaker::Pipeline with a least-privilege role."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from mlops_config import parse_config
from tests.conftest import build_app, raw_default_config


@pytest.fixture(scope="module")
def dev_training(default_app: Any) -> Any:
    _, stages = default_app
    return stages["dev"].training["breast-cancer"]


@pytest.fixture(scope="module")
def template(dev_training: Any) -> Template:
    return Template.from_stack(dev_training)


def _definition(template: Template) -> tuple[dict[str, Any], dict[str, Any]]:
    pipeline = next(iter(template.find_resources("AWS::SageMaker::Pipeline").values()))
    body, variables = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    return json.loads(body), variables


def test_only_the_training_environment_has_training_stacks(default_app: Any) -> None:
    _, stages = default_app
    assert list(stages["dev"].training) == ["breast-cancer", "diabetes"]
    assert stages["staging"].training == {} and stages["prod"].training == {}


def test_pipeline_resource_is_named_and_uses_its_role(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SageMaker::Pipeline",
        {
            "PipelineName": "mlops-dev-breast-cancer-training",
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("ExecutionRole"), "Arn"]},
        },
    )


def test_definition_placeholders_are_bound_to_this_environment(template: Template) -> None:
    definition, variables = _definition(template)
    assert set(variables) == {
        "ExecutionRoleName",
        "DataBucket",
        "ArtifactBucket",
        "KmsKeyArn",
        "PreprocessScriptBucket",
        "PreprocessScriptKey",
        "EvaluateScriptBucket",
        "EvaluateScriptKey",
    }
    assert variables["DataBucket"] == "mlops-dev-data-111111111111-eu-west-1"  # shared by name, no export
    assert variables["ArtifactBucket"] == "mlops-dev-models-111111111111-eu-west-1"
    # The data stack's key ARN through this stack's SSM-typed parameter: no cross-stack reference, which would fail
    # inside the Fn::Sub variable map (Fn::GetStackOutput, Known limitations).
    parameter_id = variables["KmsKeyArn"]["Ref"]
    assert template.to_json()["Parameters"][parameter_id] == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/mlops/dev/data-key-arn",
    }
    assert "cdk-hnb659fds-assets" in json.dumps(variables["PreprocessScriptBucket"])
    text = json.dumps(definition)
    assert "s3://${PreprocessScriptBucket}/${PreprocessScriptKey}" in text
    assert "/work/" not in text and "preprocess.py" not in text  # never a local path


def test_the_data_stack_publishes_the_key_arn_the_pipeline_reads(default_app: Any) -> None:
    _, stages = default_app
    data = Template.from_stack(stages["dev"].data)
    data.has_resource_properties(
        "AWS::SSM::Parameter",
        {
            "Name": "/mlops/dev/data-key-arn",
            "Type": "String",
            "Value": {"Fn::GetAtt": [Match.string_like_regexp("DataKey"), "Arn"]},
        },
    )


def test_parameter_defaults_come_from_the_environment_config(template: Template) -> None:
    definition, _ = _definition(template)
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults["InputDataUri"] == "s3://${DataBucket}/breast-cancer/training/"
    assert defaults["AucThreshold"] == 0.9
    assert defaults["ModelApprovalStatus"] == "PendingManualApproval"
    assert defaults["TrainingInstanceType"] == "ml.m5.xlarge"
    assert defaults["TriggerReason"] == "manual"


def _statements(template: Template) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_role_passes_only_itself_and_only_to_sagemaker(template: Template) -> None:
    passes = [s for s in _statements(template) if "iam:PassRole" in json.dumps(s["Action"])]
    assert len(passes) == 1
    assert passes[0]["Action"] == "iam:PassRole"
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert passes[0]["Resource"] == {"Fn::GetAtt": [Match.string_like_regexp("ExecutionRole"), "Arn"]} or (
        "ExecutionRole" in json.dumps(passes[0]["Resource"])
    )


def test_role_has_no_wildcard_actions_and_registers_only_in_its_group(template: Template) -> None:
    for statement in _statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert action != "*" and not action.endswith(":*"), statement
    text = json.dumps(_statements(template))
    assert "model-package/mlops-breast-cancer/*" in text
    assert "model-package/*" not in text.replace("model-package/mlops-breast-cancer/*", "")


def test_a_second_model_with_its_own_pipeline_module(tmp_path: Path) -> None:
    raw = raw_default_config()
    raw["models"].append(
        {
            "name": "churn",
            "description": "A second model with its own pipeline code",
            "training": {
                "builder": "tests.fixtures.churn_pipeline:build_churn_pipeline",
                "quality_gate": {"metric": "auc", "threshold": 0.8},
            },
            "environments": {"dev": {"serving": {"mode": "none"}}},
        }
    )
    config = parse_config(raw, source=tmp_path / "platform.yaml")
    _, stages = build_app(config, environments=["dev"])
    dev = stages["dev"]
    assert set(dev.training) == {"breast-cancer", "diabetes", "churn"}
    churn = Template.from_stack(dev.training["churn"])
    churn.has_resource_properties("AWS::SageMaker::Pipeline", {"PipelineName": "mlops-dev-churn-training"})
    definition, _ = _definition(churn)
    train = next(s for s in definition["Steps"] if s["Type"] == "Training")
    assert train["Arguments"]["HyperParameters"]["max_depth"] == "3"
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults["AucThreshold"] == 0.8
    data = Template.from_stack(dev.data)
    data.has_resource_properties("AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": "mlops-churn"})


def test_the_diabetes_stack_uploads_and_grants_the_scripts_its_builder_declares(default_app: Any) -> None:
    _, stages = default_app
    stack = stages["dev"].training["diabetes"]
    template = Template.from_stack(stack)
    definition, variables = _definition(template)

    scripts = ("Preprocess", "Train", "Inference", "Evaluate")
    assert set(variables) == {"ExecutionRoleName", "DataBucket", "ArtifactBucket", "KmsKeyArn"} | {
        f"{name}Script{part}" for name in scripts for part in ("Bucket", "Key")
    }
    assets = {asset.node.id: asset for asset in stack.script_assets}
    assert sorted(assets) == sorted(f"{name}Script" for name in scripts)
    for name in scripts:
        assert variables[f"{name}ScriptKey"] == assets[f"{name}Script"].s3_object_key
    train = next(s for s in definition["Steps"] if s["Type"] == "Training")
    assert train["Arguments"]["HyperParameters"]["sagemaker_program"] == "${TrainScriptKey}"
    text = json.dumps(template.find_resources("AWS::IAM::Policy"))
    for asset in assets.values():
        assert asset.s3_object_key in text
    # Pulls exactly what the rendered jobs run: the scikit-learn image and the Model Monitor analyzer, no XGBoost.
    repositories = sorted(set(re.findall(r"repository/([a-z0-9._/-]+)", text)))
    assert repositories == ["sagemaker-model-monitor-analyzer", "sagemaker-scikit-learn"]
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults["RmseThreshold"] == 65
