"""Release settings: the permissions boundary name and the approver role, with their defaults and errors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk.assertions import Template

from mlops_config import ConfigError, parse_config
from mlops_constructs.release_gates import ReleaseApproverRole
from tests.conftest import raw_default_config

SOURCE = Path("config/platform.yaml")
TOOLING = "444444444444"


def _with_tooling(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(raw_default_config())
    raw["tooling"].update(changes)
    return raw


def test_defaults_derive_from_the_project(default_config: Any) -> None:
    assert default_config.permissions_boundary_name == "mlops-permissions-boundary"
    assert default_config.approver_role_name == "mlops-release-approver"
    assert default_config.tooling.approver_principal_arns == ()


def test_configured_names_win() -> None:
    raw = _with_tooling(approver_role_name="ReleaseApprovers")
    raw["permissions_boundary"] = "org-boundary"
    config = parse_config(raw, source=SOURCE)
    assert (config.approver_role_name, config.permissions_boundary_name) == ("ReleaseApprovers", "org-boundary")


@pytest.mark.parametrize("bad", ["has space", "x" * 65, "role/with-path"])
def test_a_bad_approver_role_name_fails_naming_the_field(bad: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(_with_tooling(approver_role_name=bad), source=SOURCE)
    message = str(error.value)
    assert "tooling.approver_role_name" in message and "IAM role name" in message and str(SOURCE) in message


@pytest.mark.parametrize(
    "bad",
    [
        "arn:aws:iam::111111111111:role/Approvers",  # another account
        f"arn:aws:iam::{TOOLING}:user/alice",  # not a role
        "Approvers",
    ],
)
def test_approver_principals_must_be_roles_of_the_tooling_account(bad: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(_with_tooling(approver_principal_arns=[bad]), source=SOURCE)
    message = str(error.value)
    assert "tooling.approver_principal_arns" in message and f"arn:aws:iam::{TOOLING}:role/" in message


def test_approver_principals_narrow_the_roles_trust() -> None:
    sso = f"arn:aws:iam::{TOOLING}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_ReleaseApprover_*"
    config = parse_config(_with_tooling(approver_principal_arns=[sso]), source=SOURCE)
    assert config.tooling is not None
    stack = Stack(App(), "Tooling", env=Environment(account=TOOLING, region="eu-west-1"))
    pipeline = codepipeline.Pipeline.from_pipeline_arn(
        stack, "Pipeline", f"arn:aws:codepipeline:eu-west-1:{TOOLING}:mlops-release"
    )
    ReleaseApproverRole(
        stack,
        "Approver",
        role_name=config.approver_role_name,
        pipeline=pipeline,
        approval_arns=[f"arn:aws:codepipeline:eu-west-1:{TOOLING}:mlops-release/prod/Approve-prod"],
        review_projects=["mlops-release-diff-prod"],
        principal_arns=config.tooling.approver_principal_arns,
    )
    (role,) = Template.from_stack(stack).find_resources("AWS::IAM::Role").values()
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"ArnLike": {"aws:PrincipalArn": [sso]}}
    assert role["Properties"]["RoleName"] == "mlops-release-approver"


def test_an_approver_role_without_approvals_is_refused() -> None:
    stack = Stack(App(), "Tooling", env=Environment(account=TOOLING, region="eu-west-1"))
    pipeline = codepipeline.Pipeline.from_pipeline_arn(stack, "P", f"arn:aws:codepipeline:eu-west-1:{TOOLING}:p")
    with pytest.raises(ValueError, match="at least one approval"):
        ReleaseApproverRole(stack, "A", role_name="r", pipeline=pipeline, approval_arns=[], review_projects=[])
