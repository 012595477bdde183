"""SageMakerPipeline and PipelineExecutionRole: Fn::Sub wiring, grants, least privilege."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk.assertions import Match, Template

from mlops_constructs.sagemaker_iam import image_repository_arns
from mlops_constructs.sagemaker_pipeline import (
    PipelineExecutionRole,
    SageMakerPipeline,
    key_arn_from_parameter,
    placeholders_in,
)
from tests.conftest import cdk_feature_flags

SCRIPT = Path(__file__).resolve().parents[2] / "pipeline_defs" / "steps" / "preprocess.py"
DEFINITION = json.dumps(
    {
        "Steps": [
            {
                "RoleArn": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ExecutionRoleName}",
                "Out": "s3://${ArtifactBucket}/x",
                "Code": "s3://${PreprocessScriptBucket}/${PreprocessScriptKey}",
                "Literal": "${!NotAPlaceholder}",
            }
        ]
    },
    sort_keys=True,
    separators=(",", ":"),
)


def build(**overrides: Any) -> tuple[cdk.Stack, SageMakerPipeline, PipelineExecutionRole]:
    app = cdk.App()
    stack = cdk.Stack(app, "Test", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    key = kms.Key(stack, "Key")
    data = s3.Bucket(stack, "Data", encryption_key=key)
    artifacts = s3.Bucket(stack, "Artifacts", encryption_key=key)
    script = s3_assets.Asset(stack, "Preprocess", path=str(SCRIPT))
    execution = PipelineExecutionRole(
        stack,
        "ExecutionRole",
        data_bucket=data,
        artifact_bucket=artifacts,
        key=key,
        script_assets=[script],
        image_repositories=image_repository_arns(
            stack, ["141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"]
        ),
        model_package_group_name="breast-cancer",
    )
    substitutions = {
        "ExecutionRoleName": execution.role.role_name,
        "ArtifactBucket": artifacts.bucket_name,
        "PreprocessScriptBucket": script.s3_bucket_name,
        "PreprocessScriptKey": script.s3_object_key,
    }
    kwargs: dict[str, Any] = {
        "pipeline_name": "breast-cancer-training",
        "definition_json": DEFINITION,
        "substitutions": substitutions,
        "role": execution.role,
        "description": "Trains the sample model",
    }
    kwargs.update(overrides)
    pipeline = SageMakerPipeline(stack, "Training", **kwargs)
    return stack, pipeline, execution


@pytest.fixture(scope="module")
def built() -> tuple[Template, SageMakerPipeline, cdk.Stack]:
    stack, pipeline, _ = build()
    starter = iam.Role(stack, "Starter", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    pipeline.grant_start_execution(starter)
    return Template.from_stack(stack), pipeline, stack


def test_pipeline_body_is_fn_sub_with_the_variable_map(built: Any) -> None:
    template, _, _ = built
    template.has_resource_properties(
        "AWS::SageMaker::Pipeline",
        {
            "PipelineName": "breast-cancer-training",
            "PipelineDescription": "Trains the sample model",
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("ExecutionRole"), "Arn"]},
            "PipelineDefinition": {
                "PipelineDefinitionBody": {
                    "Fn::Sub": [
                        DEFINITION,
                        {
                            "ExecutionRoleName": {"Ref": Match.string_like_regexp("ExecutionRole")},
                            "ArtifactBucket": {"Ref": Match.string_like_regexp("Artifacts")},
                            "PreprocessScriptBucket": Match.any_value(),
                            "PreprocessScriptKey": Match.any_value(),
                        },
                    ]
                }
            },
        },
    )


def test_placeholder_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"without a substitution: \['ArtifactBucket'\]"):
        build(
            definition_json=DEFINITION,
            substitutions={"ExecutionRoleName": "r", "PreprocessScriptBucket": "b", "PreprocessScriptKey": "k"},
        )
    with pytest.raises(ValueError, match=r"not used by the definition: \['Extra'\]"):
        build(
            substitutions={
                "ExecutionRoleName": "r",
                "ArtifactBucket": "a",
                "PreprocessScriptBucket": "b",
                "PreprocessScriptKey": "k",
                "Extra": "x",
            }
        )


def test_placeholders_skip_pseudo_parameters_and_escapes() -> None:
    assert placeholders_in(DEFINITION) == {
        "ExecutionRoleName",
        "ArtifactBucket",
        "PreprocessScriptBucket",
        "PreprocessScriptKey",
    }


def test_grant_start_execution_is_scoped_to_the_pipeline(built: Any) -> None:
    template, _, _ = built
    policies = template.find_resources("AWS::IAM::Policy")
    statements = [
        s
        for p in policies.values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:StartPipelineExecution" in _as_list(s["Action"])
    ]
    assert len(statements) == 1
    (statement,) = statements
    assert sorted(_as_list(statement["Action"])) == sorted(
        [
            "sagemaker:StartPipelineExecution",
            "sagemaker:DescribePipeline",
            "sagemaker:ListPipelineExecutions",
            "sagemaker:DescribePipelineExecution",
        ]
    )
    resources = json.dumps(statement["Resource"])
    assert ':pipeline/breast-cancer-training"' in resources
    assert ":pipeline/breast-cancer-training/execution/*" in resources


def test_pipeline_arn_uses_format_arn(built: Any) -> None:
    _, pipeline, stack = built
    assert stack.resolve(pipeline.pipeline_arn) == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:eu-west-1:111122223333:pipeline/breast-cancer-training"],
        ]
    }
    assert pipeline.pipeline_name == "breast-cancer-training"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_statements(template: Template) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    return [
        s
        for logical_id, p in policies.items()
        if logical_id.startswith("ExecutionRole")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_execution_role_passes_only_itself_to_sagemaker(built: Any) -> None:
    template, _, _ = built
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]
            }
        },
    )
    passes = [s for s in _role_statements(template) if "iam:PassRole" in _as_list(s["Action"])]
    assert len(passes) == 1
    (statement,) = passes
    assert statement["Resource"] == {"Fn::GetAtt": [_role_id(template), "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def _role_id(template: Template) -> str:
    roles = [rid for rid in template.find_resources("AWS::IAM::Role") if rid.startswith("ExecutionRole")]
    assert len(roles) == 1
    return roles[0]


def test_no_wildcard_actions_and_one_wildcard_resource(built: Any) -> None:
    template, _, _ = built
    statements = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    for statement in statements:
        for action in _as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), statement
    star_resources = [s for s in _role_statements(template) if "*" in _as_list(s["Resource"])]
    assert [s["Action"] for s in star_resources] == ["ecr:GetAuthorizationToken"]


def test_execution_role_grants(built: Any) -> None:
    template, _, _ = built
    actions = {a for s in _role_statements(template) for a in _as_list(s["Action"])}
    assert {
        "sagemaker:CreateProcessingJob",
        "sagemaker:CreateTrainingJob",
        "sagemaker:CreateModelPackage",
        "sagemaker:AddTags",
        "ecr:BatchGetImage",
        "logs:PutLogEvents",
        "kms:Decrypt",
        "kms:Encrypt",
        "s3:PutObject",
        "s3:GetObject*",
    } <= actions
    jobs = next(s for s in _role_statements(template) if s.get("Sid") == "PipelineJobs")
    text = json.dumps(jobs["Resource"])
    assert ":111122223333:processing-job/*" in text
    assert ":111122223333:model-package/breast-cancer/*" in text
    logs = next(s for s in _role_statements(template) if s.get("Sid") == "JobLogs")
    assert "log-group:/aws/sagemaker/*" in json.dumps(logs["Resource"])


def test_execution_role_writes_objects_without_deleting_or_locking_them(built: Any) -> None:
    template, _, _ = built
    actions = {a for s in _role_statements(template) for a in _as_list(s["Action"])}
    assert {"s3:PutObject", "s3:AbortMultipartUpload"} <= actions
    assert not {a for a in actions if a.startswith(("s3:DeleteObject", "s3:PutObjectRetention", "s3:PutObjectLegal"))}
    assert "s3:Abort*" not in actions


def test_execution_role_reads_the_script_object_not_the_asset_bucket(built: Any) -> None:
    template, _, _ = built
    text = json.dumps(_role_statements(template))
    assert "cdk-hnb659fds-assets-111122223333-eu-west-1/*" not in text
    listing = next(s for s in _role_statements(template) if s["Action"] == "s3:ListBucket")
    assert list(listing["Condition"]["StringEquals"]) == ["s3:prefix"]


def test_execution_role_pulls_only_the_named_repository(built: Any) -> None:
    template, _, _ = built
    pulls = next(s for s in _role_statements(template) if s.get("Sid") == "EcrPullImages")
    text = json.dumps(pulls["Resource"])
    assert ":ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn" in text
    assert "*" not in text


def test_image_repository_arns_need_an_image() -> None:
    app = cdk.App(context=cdk_feature_flags())  # the repo's flags: a literal partition
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    with pytest.raises(ValueError, match="no ECR image URI found"):
        image_repository_arns(stack, ['{"ImageUri": "python:3.12"}'])
    assert image_repository_arns(
        stack,
        [
            '{"A": "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training@sha256:ab",'
            ' "B": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"}'
        ],
    ) == [
        "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost",
        "arn:aws:ecr:eu-west-1:763104351884:repository/pytorch-training",
    ]


def _two_stacks() -> tuple[cdk.App, cdk.Stack, cdk.Stack, iam.Role]:
    app = cdk.App(context=cdk_feature_flags())  # the repo's flags: weak cross-stack references
    env = cdk.Environment(account="111122223333", region="eu-west-1")
    owner = cdk.Stack(app, "Data", env=env)
    consumer = cdk.Stack(app, "Training", env=env)
    role = iam.Role(consumer, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    return app, owner, consumer, role


def test_a_cross_stack_substitution_fails_synth_naming_it() -> None:
    app, owner, consumer, role = _two_stacks()
    key = kms.Key(owner, "Key")
    SageMakerPipeline(
        consumer,
        "Pipeline",
        pipeline_name="uses-another-stacks-key",
        definition_json='{"KmsKeyId":"${KmsKeyArn}"}',
        substitutions={"KmsKeyArn": key.key_arn},
        role=role,
    )

    with pytest.raises(
        Exception, match=r"uses-another-stacks-key: substitution 'KmsKeyArn' is a cross-stack reference"
    ):
        app.synth()


def test_key_arn_from_parameter_is_a_parameter_of_this_stack() -> None:
    _, owner, consumer, role = _two_stacks()
    kms.Key(owner, "Key")  # the owner writes the parameter; nothing of it is referenced
    SageMakerPipeline(
        consumer,
        "Pipeline",
        pipeline_name="reads-the-key-from-ssm",
        definition_json='{"KmsKeyId":"${KmsKeyArn}"}',
        substitutions={"KmsKeyArn": key_arn_from_parameter(consumer, "/mlops/dev/data-key-arn", written_by=owner)},
        role=role,
    )
    assert consumer.dependencies == [owner]  # the parameter must exist before this stack deploys

    template = Template.from_stack(consumer).to_json()  # synthesizes: the validation passes
    pipeline = next(r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline")
    _, variables = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    parameter = template["Parameters"][variables["KmsKeyArn"]["Ref"]]
    assert parameter == {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/mlops/dev/data-key-arn"}
