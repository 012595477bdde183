"""The permissions boundary every role carries and the CloudFormation execution policy, against every template.

Both policies ship in bootstrap/ and are created in each account before the first deploy (docs/security.md). These
tests synthesize every stack kind (the example approved-models file approves the sample model everywhere, with the
release pipeline) and check the policies against what the templates actually create and grant.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, parse_config
from tests.conftest import REPO, build_app, raw_default_config

BOUNDARY = json.loads((REPO / "bootstrap" / "permissions-boundary.json").read_text(encoding="utf-8"))
EXECUTION = json.loads((REPO / "bootstrap" / "execution-policy.json").read_text(encoding="utf-8"))

# What CloudFormation needs to create, update and delete each resource type the app uses: the service's actions
# (CloudFormation's resource handlers call many of each service's APIs), plus what crosses services. A resource type
# missing here fails the coverage test: add it here and to bootstrap/execution-policy.json.
SERVICE_OF_NAMESPACE = {
    "ApplicationAutoScaling": "application-autoscaling",
    "CloudWatch": "cloudwatch",
    "CodeBuild": "codebuild",
    "CodePipeline": "codepipeline",
    "CodeStarNotifications": "codestar-notifications",
    "Events": "events",
    "KMS": "kms",
    "Lambda": "lambda",
    "Logs": "logs",
    "S3": "s3",
    "SageMaker": "sagemaker",
    "Scheduler": "scheduler",
    "SNS": "sns",
    "SQS": "sqs",
}
SPECIAL_RESOURCE_TYPES = {
    # IAM roles and their policies: only with the boundary, only the project's roles (checked separately).
    "AWS::IAM::Role": ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRole", "iam:PassRole"],
    "AWS::IAM::Policy": ["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
    # Customer managed policies: only under the project's path (naming.managed_policy_path); CloudFormation's handler
    # permissions for AWS::IAM::ManagedPolicy (its registry schema), attaching to roles through the boundary rule.
    "AWS::IAM::ManagedPolicy": [
        "iam:CreatePolicy",
        "iam:CreatePolicyVersion",
        "iam:DeletePolicy",
        "iam:DeletePolicyVersion",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:ListEntitiesForPolicy",
        "iam:ListPolicyVersions",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
    ],
    "AWS::SSM::Parameter": ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:AddTagsToResource"],
    # Custom resources: CloudFormation invokes the provider function.
    "Custom::*": ["lambda:InvokeFunction"],
}
# Permissions one resource type needs from another service when CloudFormation creates it.
CROSS_SERVICE = {
    "AWS::CodePipeline::Pipeline": ["codestar-connections:PassConnection", "codeconnections:PassConnection"],
    "AWS::ApplicationAutoScaling::ScalableTarget": ["iam:CreateServiceLinkedRole"],
}
PROJECT_ROLE = "arn:aws:iam::111111111111:role/mlops-anything"
PROJECT_POLICY = "arn:aws:iam::111111111111:policy/mlops/mlops-prod-cicd-access-InvokeEndpoints1-AbC123"
BOUNDARY_ARN = "arn:aws:iam::111111111111:policy/mlops-permissions-boundary"


def _templates(outdir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(outdir.rglob("*.template.json")):
        yield path.name, json.loads(path.read_text(encoding="utf-8"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allows(policy: dict[str, Any], action: str, *, resource: str = "*", context: dict[str, str] | None = None) -> bool:
    """Whether ``policy`` allows ``action`` (a pattern like ``s3:GetObject*`` is covered by ``s3:*``) and no Deny
    of it applies. Conditions are evaluated for StringEquals/StringLike/StringNotLike on ``context`` keys only."""

    def matches(statement: dict[str, Any]) -> bool:
        if not any(fnmatch.fnmatchcase(action, pattern) for pattern in _as_list(statement.get("Action", []))):
            return False
        if "Resource" in statement and not any(
            fnmatch.fnmatchcase(resource, pattern) for pattern in _as_list(statement["Resource"])
        ):
            return False
        for operator, pairs in statement.get("Condition", {}).items():
            for key, expected in pairs.items():
                actual = (context or {}).get(key)
                patterns = [p.replace("${aws:PrincipalAccount}", "111111111111") for p in _as_list(expected)]
                hit = actual is not None and any(fnmatch.fnmatchcase(actual, p) for p in patterns)
                if operator in ("StringEquals", "StringLike") and not hit:
                    return False
                # A negated operator holds when the key is absent (IAM JSON policy elements: Condition operators).
                if operator == "StringNotLike" and hit:
                    return False
        return True

    statements = policy["Statement"]
    denied = any(s["Effect"] == "Deny" and matches(s) for s in statements)
    return not denied and any(s["Effect"] == "Allow" and matches(s) for s in statements)


def _role_policy_actions(template: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        documents = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        for document in documents:
            for statement in document["Statement"]:
                if statement["Effect"] == "Allow":
                    actions.update(_as_list(statement["Action"]))
    return actions


@pytest.fixture(scope="module")
def templates(release_app: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(_templates(release_app["outdir"]))


def test_every_stack_kind_is_synthesized(templates: dict[str, dict[str, Any]]) -> None:
    names = set(templates)
    for kind in ("Data", "Training", "Serving", "CicdAccess"):
        assert any(kind in name for name in names), kind
    # The model stacks (Serving-<model>) hold the monitoring too.
    assert any(
        "Serving" in name and any(r["Type"] == "AWS::CloudWatch::Dashboard" for r in template["Resources"].values())
        for name, template in templates.items()
    )
    assert "Cicd.template.json" in names


def test_every_role_in_every_template_carries_the_configured_boundary(templates: dict[str, dict[str, Any]]) -> None:
    roles = 0
    for name, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            roles += 1
            boundary = resource["Properties"].get("PermissionsBoundary")
            assert boundary == {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        f":iam::{_account(template, name)}:policy/mlops-permissions-boundary",
                    ],
                ]
            } or boundary == _literal_boundary(template, name), (name, logical_id, boundary)
        assert not any(r["Type"] == "AWS::IAM::User" for r in template["Resources"].values()), name
    assert roles > 30


def _account(template: dict[str, Any], name: str) -> str:
    accounts = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
    for environment, account in accounts.items():
        if name.startswith(environment):
            return account
    return "444444444444"


def _literal_boundary(template: dict[str, Any], name: str) -> str:
    return f"arn:aws:iam::{_account(template, name)}:policy/mlops-permissions-boundary"


def test_a_configured_boundary_name_reaches_every_role() -> None:
    raw = copy.deepcopy(raw_default_config())
    raw["permissions_boundary"] = "org-ml-boundary"
    config = parse_config(raw, source=Path("config/platform.yaml"))
    app, _ = build_app(config, environments=["dev"])
    assembly = app.synth()
    boundaries = [
        json.dumps(resource["Properties"]["PermissionsBoundary"])
        for stack in assembly.stacks_recursively
        for resource in stack.template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
    ]
    assert boundaries and all(":policy/org-ml-boundary" in boundary for boundary in boundaries)


@pytest.mark.parametrize("bad", ["arn:aws:iam::111111111111:policy/b", "has space", "x" * 129, ""])
def test_a_bad_boundary_name_fails_naming_the_field(bad: str) -> None:
    raw = copy.deepcopy(raw_default_config())
    raw["permissions_boundary"] = bad
    with pytest.raises(ConfigError) as error:
        parse_config(raw, source=Path("config/platform.yaml"))
    assert "permissions_boundary" in str(error.value) and "config/platform.yaml" in str(error.value)


def test_the_default_boundary_name_is_the_shipped_policys(default_config: Any) -> None:
    assert default_config.permissions_boundary_name == "mlops-permissions-boundary"
    for document in (BOUNDARY, EXECUTION):
        assert "policy/mlops-permissions-boundary" in json.dumps(document)


def test_the_boundary_allows_every_action_any_role_is_granted(templates: dict[str, dict[str, Any]]) -> None:
    granted = set().union(*(_role_policy_actions(t) for t in templates.values()))
    assert len(granted) > 50
    outside = sorted(action for action in granted if not _allows(BOUNDARY, action, resource=PROJECT_ROLE))
    assert outside == [], "roles are granted actions the boundary denies: add them to permissions-boundary.json"


def test_every_role_name_falls_under_the_project_prefix_the_policies_scope_iam_to(
    templates: dict[str, dict[str, Any]], release_app: dict[str, Any]
) -> None:
    # CloudFormation names unnamed roles after their stack: every stack name starts with the project.
    for stack in release_app["app"].synth().stacks_recursively:
        assert stack.stack_name.startswith("mlops-"), stack.stack_name
    for template in templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::IAM::Role" and "RoleName" in resource["Properties"]:
                assert resource["Properties"]["RoleName"].startswith("mlops-")


def test_the_boundary_stops_a_role_from_creating_a_role_without_it() -> None:
    with_boundary = {"iam:PermissionsBoundary": BOUNDARY_ARN}
    other = {"iam:PermissionsBoundary": "arn:aws:iam::111111111111:policy/AdministratorAccess"}
    assert _allows(BOUNDARY, "iam:CreateRole", resource=PROJECT_ROLE, context=with_boundary)
    assert not _allows(BOUNDARY, "iam:CreateRole", resource=PROJECT_ROLE, context=other)
    assert not _allows(BOUNDARY, "iam:CreateRole", resource=PROJECT_ROLE)
    assert not _allows(BOUNDARY, "iam:DeleteRolePermissionsBoundary", resource=PROJECT_ROLE)
    for escalation in (
        "iam:CreateUser",
        "iam:CreateAccessKey",
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
    ):
        assert not _allows(BOUNDARY, escalation, resource="arn:aws:iam::111111111111:policy/mlops-permissions-boundary")
    assert not _allows(BOUNDARY, "iam:PassRole", resource="arn:aws:iam::111111111111:role/OrganizationAdmin")


def test_the_execution_policy_covers_every_resource_type_the_templates_use(
    templates: dict[str, dict[str, Any]],
) -> None:
    types = {resource["Type"] for template in templates.values() for resource in template["Resources"].values()}
    unknown, uncovered = [], []
    for kind in sorted(types):
        if kind == "AWS::CDK::Metadata":
            continue
        needed = SPECIAL_RESOURCE_TYPES.get(kind) or SPECIAL_RESOURCE_TYPES.get(
            "Custom::*" if kind.startswith("Custom::") else ""
        )
        if needed is None:
            namespace = kind.split("::")[1]
            if namespace not in SERVICE_OF_NAMESPACE:
                unknown.append(kind)
                continue
            service = SERVICE_OF_NAMESPACE[namespace]
            needed = [
                f"{service}:Create{kind.split('::')[2]}",
                f"{service}:Delete{kind.split('::')[2]}",
                f"{service}:TagResource",
            ]
        needed = [*needed, *CROSS_SERVICE.get(kind, [])]
        context = {
            "iam:PermissionsBoundary": BOUNDARY_ARN,
            "iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com",
        }
        for action in needed:
            resource = (
                (PROJECT_POLICY if "Polic" in action and "Role" not in action else PROJECT_ROLE)
                if action.startswith("iam:")
                else "arn:aws:ssm:eu-west-1:111111111111:parameter/mlops/dev/data-key-arn"
            )
            if not _allows(EXECUTION, action, resource=resource, context=context):
                uncovered.append(f"{kind}: {action}")
    assert unknown == [], "new resource types: map them in SERVICE_OF_NAMESPACE and allow them in execution-policy.json"
    assert uncovered == []


def test_the_execution_policy_creates_roles_only_with_the_boundary_and_only_the_projects() -> None:
    assert _allows(
        EXECUTION, "iam:CreateRole", resource=PROJECT_ROLE, context={"iam:PermissionsBoundary": BOUNDARY_ARN}
    )
    assert not _allows(EXECUTION, "iam:CreateRole", resource=PROJECT_ROLE)
    assert not _allows(EXECUTION, "iam:PutRolePolicy", resource=PROJECT_ROLE)
    assert not _allows(
        EXECUTION,
        "iam:CreateRole",
        resource="arn:aws:iam::111111111111:role/admin",
        context={"iam:PermissionsBoundary": BOUNDARY_ARN},
    )
    for never in ("iam:CreateUser", "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeleteRolePermissionsBoundary"):
        assert not _allows(EXECUTION, never, resource=PROJECT_ROLE, context={"iam:PermissionsBoundary": BOUNDARY_ARN})
    assert not _allows(EXECUTION, "iam:PassRole", resource="arn:aws:iam::111111111111:role/OrganizationAdmin")
    assert not _allows(EXECUTION, "organizations:LeaveOrganization")


@pytest.mark.parametrize("document", [BOUNDARY, EXECUTION], ids=["boundary", "execution"])
def test_both_policies_manage_only_policies_under_the_projects_path(
    document: dict[str, Any], default_config: Any
) -> None:
    """Customer managed policies only under ``/mlops/``: never the boundary or the execution policy itself (both at
    ``/``), so neither a deployment nor a bounded role can widen what bounds it."""
    from mlops_constructs import naming

    assert naming.managed_policy_path(default_config.project) == "/mlops/"
    writes = ("iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion")
    for outside in (BOUNDARY_ARN, "arn:aws:iam::111111111111:policy/mlops-cfn-execution", "arn:aws:iam::aws:policy/x"):
        for action in (*writes, "iam:DeletePolicyVersion"):
            assert not _allows(document, action, resource=outside), (action, outside)
    assert _allows(document, "iam:CreatePolicy", resource=PROJECT_POLICY)
    # CloudFormation makes a new version the default as it creates it; nothing else may switch versions.
    assert not _allows(document, "iam:SetDefaultPolicyVersion", resource=PROJECT_POLICY)


def test_every_managed_policy_in_the_templates_is_under_the_projects_path(templates: dict[str, dict[str, Any]]) -> None:
    policies = [
        resource["Properties"]
        for template in templates.values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
    ]
    assert policies, "the smoke-test roles' endpoint policies"
    assert {p.get("Path") for p in policies} == {"/mlops/"}


@pytest.mark.parametrize("document", [BOUNDARY, EXECUTION], ids=["boundary", "execution"])
def test_neither_policy_allows_every_action(document: dict[str, Any]) -> None:
    for statement in document["Statement"]:
        assert "NotAction" not in statement
        actions = _as_list(statement["Action"])
        assert "*" not in actions
        assert all(":" in action and action.split(":", 1)[0] for action in actions)
        if statement["Effect"] == "Allow" and statement.get("Resource") == "*":
            # Service-wide allowances name their service; iam is never service-wide.
            assert not any(action.startswith("iam:") and action.endswith("*") for action in actions)


def test_the_boundary_leaves_the_execution_role_everything_its_policy_allows() -> None:
    # cdk bootstrap --custom-permissions-boundary puts this boundary on the CloudFormation execution role too.
    context = {
        "iam:PermissionsBoundary": BOUNDARY_ARN,
        "iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com",
    }
    for statement in EXECUTION["Statement"]:
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                concrete = resource.replace("*", "x").replace("arn:x:", "arn:aws:")
                assert _allows(BOUNDARY, action, resource=concrete, context=context), (action, resource)


def test_the_stage_boundary_reaches_roles_cdk_generates_for_custom_resource_providers(default_config: Any) -> None:
    """Roles the app does not write itself (provider roles of CDK's own custom resources) carry it too."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    from stacks.platform import permissions_boundary

    app = cdk.App()
    stage = cdk.Stage(
        app,
        "probe",
        env=cdk.Environment(account="111111111111", region="eu-west-1"),
        permissions_boundary=permissions_boundary(default_config),
    )
    stack = cdk.Stack(stage, "Probe")
    s3.Bucket(stack, "Bucket", auto_delete_objects=True, removal_policy=cdk.RemovalPolicy.DESTROY)
    (template,) = [s.template for s in app.synth().stacks_recursively]
    roles = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert any("CustomResourceProvider" in logical_id for logical_id in roles)
    for role in roles.values():
        assert "policy/mlops-permissions-boundary" in json.dumps(role["Properties"]["PermissionsBoundary"])
