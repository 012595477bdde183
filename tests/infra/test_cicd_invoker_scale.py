"""The CI/CD roles at platform scale: exact ARNs, in managed policies that fit IAM's quotas and the execution policy.

One endpoint ARN per served model outgrew the smoke-test role's 10,240 inline characters at about 120 models; CDK
then split the policy on its own and cdk-nag's IAM5 threw on the split, so a 200-model synth failed
(docs/benchmark.md, stop 21). The registry reader (two ARNs per model) overflowed at about 60 models into CDK's
``OverflowPolicy``, at the root path, where the execution policy may not create policies (E9072).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from cfn_rules._shared import iam_policy_characters
from cfn_rules.iam_size import MANAGED_POLICY_CHARACTERS
from mlops_constructs.cicd import EndpointInvokerRole, RegistryReaderRole
from mlops_constructs.managed_policies import pack
from mlops_constructs.nag import acknowledge, resource_finding
from mlops_constructs.registry import ModelPackageGroup
from tests.cfn_rules.lint_helpers import fired
from tests.conftest import cdk_feature_flags

ACCOUNT = "333333333333"
NAMES = [f"mlops-prod-model-{i:03d}-m5-large" for i in range(200)]


def _synth(names: list[str], outdir: Path, *, groups: int = 0) -> dict[str, Any]:
    """A stack with the smoke-test role over endpoints ``names`` (and a registry reader over ``groups`` package
    groups), cdk-nag on; its template."""
    app = cdk.App(context=cdk_feature_flags(), outdir=str(outdir))
    stack = cdk.Stack(app, "Access", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    EndpointInvokerRole(
        stack,
        "SmokeTestInvoker",
        role_name="mlops-cicd-smoke-test-prod",
        tooling_account="444444444444",
        tooling_role_name="mlops-cicd-smoke-test-prod",
        endpoint_names=names,
        policy_path="/mlops/",
    )
    if groups:
        package_groups = [
            ModelPackageGroup(
                stack,
                f"Group{i}",
                group_name=f"mlops-model-{i:03d}",
                description="",
                reader_accounts=[],
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            for i in range(groups)
        ]
        reader = RegistryReaderRole(
            stack,
            "RegistryReader",
            role_name="mlops-cicd-registry-reader",
            tooling_account="444444444444",
            tooling_role_name="mlops-cicd-synth",
            package_groups=package_groups,
            policy_path="/mlops/",
        )
        acknowledge(
            reader,
            "AwsSolutions-IAM5",
            "Package versions are numbered as they are registered: only a group-scoped wildcard names them.",
            applies_to=[resource_finding(stack, group.packages_arn) for group in package_groups],
        )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))  # raises on any unacknowledged finding
    template: dict[str, Any] = app.synth().get_stack_by_name("Access").template
    return template


def _policies_of(template: dict[str, Any], role_name: str) -> list[dict[str, Any]]:
    resources = template["Resources"]
    (role,) = [k for k, r in resources.items() if r["Properties"].get("RoleName") == role_name]
    return [
        r
        for r in resources.values()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and r["Properties"]["Roles"] == [{"Ref": role}]
    ]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synth(NAMES, tmp_path_factory.mktemp("roles-200"), groups=200)


def test_two_hundred_endpoints_are_listed_exactly_in_managed_policies_that_fit(template: dict[str, Any]) -> None:
    policies = _policies_of(template, "mlops-cicd-smoke-test-prod")
    assert len(policies) == 3  # literal ARNs (an explicit environment) are costed at their own length
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"], "nothing inline"
    arns = []
    for policy in policies:
        assert policy["Properties"]["Path"] == "/mlops/"
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Action"] == "sagemaker:InvokeEndpoint" and statement["Effect"] == "Allow"
        assert iam_policy_characters(policy["Properties"]["PolicyDocument"]) <= MANAGED_POLICY_CHARACTERS
        arns += statement["Resource"]
    assert arns == [f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:endpoint/{name}" for name in NAMES]
    assert fired(template) == [], "E9071 (IAM sizes), E9072 (policy path) and every other project rule pass"


def test_two_hundred_package_groups_are_read_through_exact_arns_in_managed_policies(template: dict[str, Any]) -> None:
    policies = _policies_of(template, "mlops-cicd-registry-reader")
    assert len(policies) == 6
    resources = []
    for policy in policies:
        assert policy["Properties"]["Path"] == "/mlops/"
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert sorted(statement["Action"]) == [
            "sagemaker:DescribeModelPackage",
            "sagemaker:DescribeModelPackageGroup",
            "sagemaker:ListModelPackages",
        ]
        assert iam_policy_characters(policy["Properties"]["PolicyDocument"]) <= MANAGED_POLICY_CHARACTERS
        resources += statement["Resource"]
    prefix = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}"
    groups = [f"mlops-model-{i:03d}" for i in range(200)]
    assert sorted(resources) == sorted(
        arn for g in groups for arn in (f"{prefix}:model-package-group/{g}", f"{prefix}:model-package/{g}/*")
    )
    # A group and its packages always share a policy: a model is readable whole or not at all.
    for policy in policies:
        listed = set(policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"])
        for g in groups:
            assert (f"{prefix}:model-package-group/{g}" in listed) == (f"{prefix}:model-package/{g}/*" in listed)


def test_the_same_roles_with_their_arns_inline_fire_the_iam_size_rule(template: dict[str, Any]) -> None:
    """The failing side of E9071 on this very shape: each role's ARNs moved back into one inline policy."""
    resources = {k: r for k, r in template["Resources"].items() if r["Type"] != "AWS::IAM::ManagedPolicy"}
    for role_name in ("mlops-cicd-smoke-test-prod", "mlops-cicd-registry-reader"):
        (role,) = [k for k, r in resources.items() if r["Properties"].get("RoleName") == role_name]
        statements = [p["Properties"]["PolicyDocument"]["Statement"][0] for p in _policies_of(template, role_name)]
        merged = {**statements[0], "Resource": [arn for s in statements for arn in s["Resource"]]}
        resources[f"Inline{role}"] = {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "Inline",
                "Roles": [{"Ref": role}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [merged]},
            },
        }
    assert fired({"Resources": resources}) == ["E9071", "E9071"]


def _cost(name: str) -> int:
    return len(f'"arn:aws-us-gov:sagemaker:ap-southeast-1:{ACCOUNT}:endpoint/{name}",')


def test_a_new_endpoint_is_appended_to_the_last_policy_and_leaves_the_others_unchanged() -> None:
    before, after = pack(NAMES, _cost), pack([*NAMES, "mlops-prod-new-model-m5-large"], _cost)
    assert after[:-1] == before[:-1]
    assert after[-1] == [*before[-1], "mlops-prod-new-model-m5-large"]


def test_every_policy_fits_in_the_longest_partition_and_region(tmp_path: Path) -> None:
    """Token ARNs (an environment-agnostic stack: partition, Region and account unresolved) are costed at the
    longest each pseudo parameter resolves to, so the policies fit wherever the stack is deployed."""
    app = cdk.App(context=cdk_feature_flags(), outdir=str(tmp_path))
    stack = cdk.Stack(app, "Agnostic")
    longest = [f"{i:03d}".ljust(63, "x") for i in range(300)]  # SageMaker endpoint names hold 63 characters
    invoker = EndpointInvokerRole(
        stack,
        "Invoker",
        role_name="r",
        tooling_account="444444444444",
        tooling_role_name="t",
        endpoint_names=longest,
        policy_path="/mlops/",
    )
    template = app.synth().get_stack_by_name("Agnostic").template
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert len(policies) == len(invoker.invoke.policies) == 7
    for policy in policies:
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sagemaker:InvokeEndpoint",
                    "Resource": [
                        arn["Fn::Join"][1][-1].replace(
                            ":endpoint/", "arn:aws-us-gov:sagemaker:ap-southeast-1:123456789012:endpoint/", 1
                        )
                        for arn in statement["Resource"]
                    ],
                }
            ],
        }
        assert iam_policy_characters(document) <= MANAGED_POLICY_CHARACTERS


def test_more_endpoints_than_ten_managed_policies_hold_are_refused_at_synth(tmp_path: Path) -> None:
    names = [f"{i:04d}".ljust(63, "x") for i in range(600)]
    with pytest.raises(
        ValueError,
        match=r"^CI/CD smoke test: invoke this environment's model endpoints: 600 items need 1[1-9] managed policies",
    ) as error:
        _synth(names, tmp_path)
    assert "at most 10 to a role by default (IAM and AWS STS quotas)" in str(error.value)


def test_the_construct_packs_to_the_quotas_the_rule_checks() -> None:
    """The construct (which synth must not make import cfn-lint) and E9071 state IAM's quotas once each: the same."""
    from cfn_rules import iam_size
    from mlops_constructs import managed_policies

    assert (managed_policies.MANAGED_POLICY_CHARACTERS, managed_policies.MANAGED_POLICIES_PER_ROLE) == (
        iam_size.MANAGED_POLICY_CHARACTERS,
        iam_size.MANAGED_POLICIES_PER_ROLE,
    )


@pytest.mark.parametrize(
    ("environment", "fits"),
    [
        # Pseudo parameters costed at their longest ("aws-us-gov", "ap-southeast-1"): fits in any partition and Region.
        (None, 450),
        # Literal ARNs in an explicit environment are costed at their own length.
        (cdk.Environment(account=ACCOUNT, region="eu-west-1"), 500),
    ],
    ids=["environment-agnostic", "eu-west-1"],
)
def test_ten_managed_policies_hold_exactly_so_many_endpoints_of_the_longest_names(
    environment: cdk.Environment | None, fits: int
) -> None:
    """The boundary of the 10-policy quota, with SageMaker's longest endpoint names (63 characters)."""
    names = [f"{i:04d}".ljust(63, "x") for i in range(fits + 1)]

    def invoker(count: int) -> EndpointInvokerRole:
        stack = cdk.Stack(cdk.App(context=cdk_feature_flags()), "Access", env=environment)
        return EndpointInvokerRole(
            stack,
            "Invoker",
            role_name="r",
            tooling_account="444444444444",
            tooling_role_name="t",
            endpoint_names=names[:count],
            policy_path="/mlops/",
        )

    assert len(invoker(fits).invoke.policies) == 10
    with pytest.raises(ValueError, match=rf": {fits + 1} items need 11 managed policies of exact ARNs; "):
        invoker(fits + 1)
