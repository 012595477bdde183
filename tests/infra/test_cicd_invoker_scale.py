"""The smoke-test role at platform scale: exact endpoint ARNs, in managed policies that fit IAM's quotas.

One ARN per served model outgrew a role's 10,240 inline characters at about 120 models; CDK then split the policy
on its own and cdk-nag's IAM5 threw on the split, so a 200-model synth failed (docs/benchmark.md, stop 21).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from cfn_rules._shared import iam_policy_characters
from cfn_rules.iam_size import MANAGED_POLICY_CHARACTERS
from mlops_constructs.cicd import MANAGED_POLICIES_PER_ROLE, EndpointInvokerRole, invoke_policy_chunks
from tests.cfn_rules.lint_helpers import fired
from tests.conftest import cdk_feature_flags

ACCOUNT = "333333333333"
NAMES = [f"mlops-prod-model-{i:03d}-m5-large" for i in range(200)]


def _synth(names: list[str], outdir: Path) -> dict[str, Any]:
    app = cdk.App(context=cdk_feature_flags(), outdir=str(outdir))
    stack = cdk.Stack(app, "Access", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    EndpointInvokerRole(
        stack,
        "SmokeTestInvoker",
        role_name="mlops-cicd-smoke-test-prod",
        tooling_account="444444444444",
        tooling_role_name="mlops-cicd-smoke-test-prod",
        endpoint_names=names,
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))  # raises on any unacknowledged finding
    template: dict[str, Any] = app.synth().get_stack_by_name("Access").template
    return template


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synth(NAMES, tmp_path_factory.mktemp("invoker-200"))


def test_two_hundred_endpoints_are_listed_exactly_in_managed_policies_that_fit(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    (role,) = [logical_id for logical_id, r in resources.items() if r["Type"] == "AWS::IAM::Role"]
    policies = [r for r in resources.values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert len(policies) == len(invoke_policy_chunks(NAMES)) == 4
    assert not [r for r in resources.values() if r["Type"] == "AWS::IAM::Policy"], "no inline policy left to overflow"
    arns = []
    for policy in policies:
        assert policy["Properties"]["Roles"] == [{"Ref": role}]
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Action"] == "sagemaker:InvokeEndpoint" and statement["Effect"] == "Allow"
        assert iam_policy_characters(policy["Properties"]["PolicyDocument"]) <= MANAGED_POLICY_CHARACTERS
        arns += statement["Resource"]
    assert arns == [f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:endpoint/{name}" for name in NAMES]
    assert fired(template) == [], "E9071 (IAM sizes) and every other project rule pass"


def test_the_same_role_with_its_arns_inline_fires_the_iam_size_rule(template: dict[str, Any]) -> None:
    """The failing side of E9071 on this very shape: the 200 ARNs moved back into one inline policy."""
    resources = json.loads(json.dumps(template["Resources"]))
    (role,) = [logical_id for logical_id, r in resources.items() if r["Type"] == "AWS::IAM::Role"]
    arns = [
        arn
        for r in resources.values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        for arn in r["Properties"]["PolicyDocument"]["Statement"][0]["Resource"]
    ]
    inline = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "Invoke",
            "Roles": [{"Ref": role}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": arns}],
            },
        },
    }
    kept = {k: r for k, r in resources.items() if r["Type"] != "AWS::IAM::ManagedPolicy"}
    assert fired({"Resources": {**kept, "Invoke": inline}}) == ["E9071"]


def test_a_new_endpoint_is_appended_to_the_last_policy_and_leaves_the_others_unchanged() -> None:
    before, after = invoke_policy_chunks(NAMES), invoke_policy_chunks([*NAMES, "mlops-prod-new-model-m5-large"])
    assert after[:-1] == before[:-1]
    assert after[-1] == [*before[-1], "mlops-prod-new-model-m5-large"]


def test_every_chunk_fits_a_managed_policy_in_the_longest_partition_and_region() -> None:
    longest = [f"{i:03d}".ljust(63, "x") for i in range(300)]  # SageMaker endpoint names hold 63 characters
    chunks = invoke_policy_chunks(longest)
    for names in chunks:
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sagemaker:InvokeEndpoint",
                    "Resource": [f"arn:aws-us-gov:sagemaker:ap-southeast-1:{ACCOUNT}:endpoint/{n}" for n in names],
                }
            ],
        }
        assert iam_policy_characters(document) <= MANAGED_POLICY_CHARACTERS
    # ...and packs them tightly: one more name would not fit in any chunk but the last.
    assert [len(names) for names in chunks[:-1]] == [46] * (len(chunks) - 1)


def test_more_endpoints_than_ten_managed_policies_hold_are_refused_at_synth(tmp_path: Path) -> None:
    names = [f"{i:04d}".ljust(63, "x") for i in range(46 * MANAGED_POLICIES_PER_ROLE + 1)]
    with pytest.raises(ValueError, match=r"^the smoke test of 461 endpoints needs 11 managed policies") as error:
        _synth(names, tmp_path)
    assert "at most 10 to a role by default (IAM and AWS STS quotas)" in str(error.value)
    # 460 endpoints of the longest names still fit.
    assert len(invoke_policy_chunks(names[:-1])) == MANAGED_POLICIES_PER_ROLE
