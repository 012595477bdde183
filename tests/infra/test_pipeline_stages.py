"""Where an approval action lands when CDK Pipelines splits a long deployment over several pipeline stages."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions

from stacks.cicd_stack import approval_action_name, pipeline_stage_of


def _pipeline(*stages: tuple[str, list[str]]) -> codepipeline.Pipeline:
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="444444444444", region="eu-west-1"))
    pipeline = codepipeline.Pipeline(stack, "Pipeline")
    for name, approvals in stages:
        pipeline.add_stage(
            stage_name=name, actions=[actions.ManualApprovalAction(action_name=action) for action in approvals]
        )
    return pipeline


def test_the_approval_is_found_in_the_first_of_the_split_stages() -> None:
    # 50+ actions in staging: CDK Pipelines names the stages staging.1, staging.2 (chunkTranches(50, ...)).
    pipeline = _pipeline(
        ("dev", ["Deploy"]),
        ("staging.1", ["Diff", approval_action_name("staging")]),
        ("staging.2", ["Deploy"]),
    )
    assert pipeline_stage_of(pipeline, approval_action_name("staging")) == "staging.1"


def test_an_unsplit_stage_keeps_the_environments_name() -> None:
    pipeline = _pipeline(("prod", [approval_action_name("prod")]))
    assert pipeline_stage_of(pipeline, "Approve-prod") == "prod"


def test_an_action_in_no_stage_is_an_error_naming_the_stages() -> None:
    with pytest.raises(ValueError, match=r"no action 'Approve-prod' in the pipeline; stages: \['dev'\]"):
        pipeline_stage_of(_pipeline(("dev", ["Deploy"])), "Approve-prod")
