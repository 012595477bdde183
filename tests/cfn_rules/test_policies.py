"""E9070 (KMS keys named by key ARN in IAM policies), E9071 (IAM policy size quotas) and E9080 (conditional-write
denies exempt multipart parts)."""

from __future__ import annotations

from typing import Any

from cfn_rules._shared import iam_policy_characters, shortest_text
from tests.cfn_rules.lint_helpers import findings, fired, template

KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALIAS_ARN = "arn:aws:kms:eu-west-1:111111111111:alias/mlops-dev-data"


def _policy(resource: Any, actions: Any = ("kms:Decrypt", "kms:GenerateDataKey*")) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "p",
            "Roles": ["r"],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        },
    }


KEY = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}}}


def test_kms_key_named_by_alias_or_key_id_in_an_iam_policy_fires() -> None:
    assert fired(template(P=_policy(ALIAS_ARN))) == ["E9070"]
    alias = {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/a", "TargetKeyId": "k"}}
    assert fired(template(Alias=alias, P=_policy({"Ref": "Alias"}))) == ["E9070"]
    assert fired(template(Key=KEY, P=_policy({"Ref": "Key"}))) == ["E9070"]
    joined = {"Fn::Join": ["", ["arn:aws:kms:", {"Ref": "AWS::Region"}, ":111111111111:alias/mlops-dev-data"]]}
    assert fired(template(P=_policy([KEY_ARN, joined]))) == ["E9070"]
    inline = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {},
            "Policies": [{"PolicyName": "i", "PolicyDocument": _policy(ALIAS_ARN)["Properties"]["PolicyDocument"]}],
        },
    }
    assert fired(template(Role=inline)) == ["E9070"]


def test_kms_key_named_by_key_arn_or_alias_operations_on_alias_arns_pass() -> None:
    assert fired(template(P=_policy(KEY_ARN))) == []
    assert fired(template(Key=KEY, P=_policy({"Fn::GetAtt": ["Key", "Arn"]}))) == []
    assert fired(template(P=_policy("arn:aws:kms:eu-west-1:111111111111:key/*"))) == []
    # A bare key ID or alias name is not an ARN at all: cfn-lint's own E3510 reports it.
    assert fired(template(P=_policy("1234abcd-12ab-34cd-56ef-1234567890ab"))) == []
    assert fired(template(P=_policy(ALIAS_ARN, actions=["kms:CreateAlias", "kms:DeleteAlias"]))) == []
    # Not a KMS statement: an alias-looking string elsewhere is none of this rule's business.
    assert fired(template(P=_policy("arn:aws:s3:::alias/x", actions=["s3:GetObject"]))) == []


def _bucket_policy(condition: dict[str, Any], *, effect: str = "Deny", action: Any = "s3:PutObject") -> dict[str, Any]:
    statement = {
        "Sid": "WriteOnce",
        "Effect": effect,
        "Principal": {"AWS": "*"},
        "Action": action,
        "Resource": "arn:aws:s3:::b/promoted/*",
        "Condition": condition,
    }
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {"Bucket": "b", "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}},
    }


NO_HEADER = {"Null": {"s3:if-none-match": "true"}}


def test_conditional_write_deny_without_the_creation_operation_key_fires() -> None:
    assert fired(template(P=_bucket_policy(NO_HEADER))) == ["E9080"]
    assert fired(template(P=_bucket_policy({"Null": {"s3:if-match": "true"}}, action=["s3:Put*"]))) == ["E9080"]


def test_conditional_write_deny_exempting_multipart_parts_or_other_statements_pass() -> None:
    exempting = {**NO_HEADER, "Bool": {"s3:ObjectCreationOperation": "true"}}
    assert fired(template(P=_bucket_policy(exempting))) == []
    assert fired(template(P=_bucket_policy(NO_HEADER, effect="Allow"))) == []
    assert fired(template(P=_bucket_policy(NO_HEADER, action="s3:GetObject"))) == []
    assert fired(template(P=_bucket_policy({"Bool": {"aws:SecureTransport": "false"}}))) == []


# --- E9071: IAM policy size quotas ------------------------------------------------------------------------------

ROLE = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "mlops-role", "AssumeRolePolicyDocument": {}}}


def _document(length: int) -> dict[str, Any]:
    """A policy document of exactly ``length`` characters as IAM counts them (compact, no whitespace)."""
    bare = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ""}]}
    padding = length - iam_policy_characters(bare)
    bare["Statement"][0]["Resource"] = "arn:aws:s3:::" + "b" * (padding - len("arn:aws:s3:::"))
    assert iam_policy_characters(bare) == length
    return bare


def _inline(length: int, roles: Any = ({"Ref": "Role"},)) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {"PolicyName": "p", "Roles": list(roles), "PolicyDocument": _document(length)},
    }


def _managed(length: int, roles: Any = ({"Ref": "Role"},), path: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"Roles": list(roles), "PolicyDocument": _document(length)}
    if path:
        props["Path"] = path
    return {"Type": "AWS::IAM::ManagedPolicy", "Properties": props}


def test_a_role_with_more_than_10240_inline_characters_fires() -> None:
    # Two policies of the same role add up; a literal role name counts as the role too.
    doc = template(Role=ROLE, A=_inline(6_000), B=_inline(4_241, roles=["mlops-role"]))
    assert findings(doc) == [
        (
            "E9071",
            "role Role: its 2 inline policies hold at least 10241 characters, over IAM's 10240 for a role (IAM and "
            "AWS STS quotas); move statements to customer managed policies",
        )
    ]
    inline = {
        **ROLE,
        "Properties": {**ROLE["Properties"], "Policies": [{"PolicyName": "i", "PolicyDocument": _document(10_241)}]},
    }
    assert fired(template(Role=inline)) == ["E9071"]
    assert fired(
        template(
            Role=ROLE,
            A={
                "Type": "AWS::IAM::RolePolicy",
                "Properties": {"RoleName": {"Ref": "Role"}, "PolicyName": "p", "PolicyDocument": _document(10_241)},
            },
        )
    ) == ["E9071"]


def test_inline_policies_at_10240_characters_or_of_other_roles_pass() -> None:
    assert fired(template(Role=ROLE, A=_inline(6_000), B=_inline(4_240))) == []
    assert fired(template(Role=ROLE, A=_inline(6_000), B=_inline(6_000, roles=["someone-else"]))) == []


def test_a_managed_policy_over_6144_characters_fires_and_at_6144_passes() -> None:
    assert findings(template(Role=ROLE, M=_managed(6_145, path="/mlops/"))) == [
        (
            "E9071",
            "managed policy M: at least 6145 characters, over IAM's 6144 for a managed policy (IAM and AWS STS quotas)",
        )
    ]
    assert fired(template(Role=ROLE, M=_managed(6_144, path="/mlops/"))) == []


def test_more_than_10_managed_policies_on_a_role_fires() -> None:
    own = {f"M{i}": _managed(200, path="/mlops/") for i in range(9)}
    arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess", {"Ref": "M0"}]  # M0 named twice counts once
    role = {**ROLE, "Properties": {**ROLE["Properties"], "ManagedPolicyArns": arns}}
    assert fired(template(Role=role, **own)) == []  # 9 of the template and 1 of AWS: 10
    assert findings(template(Role=role, **own, M9=_managed(200, path="/mlops/"))) == [
        (
            "E9071",
            "role Role: 11 managed policies attached, over IAM's default 10 per role (IAM and AWS STS quotas; 20 only "
            "after a quota increase)",
        )
    ]


def test_sizes_count_intrinsics_at_their_shortest_value() -> None:
    arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":e/x"]]}
    assert shortest_text(arn) == "arn:aws:sagemaker:us-east-1:e/x"
    sub = {"Fn::Sub": ["${AWS::AccountId}/${Name}/${Bucket.Arn}", {"Name": "abc"}]}
    assert shortest_text(sub) == "000000000000/abc/"
    assert shortest_text({"Fn::Sub": "${AWS::URLSuffix}"}) == "amazonaws.com"
    assert shortest_text({"Fn::GetAtt": ["Bucket", "Arn"]}) == ""
    assert shortest_text({"Fn::ImportValue": "x"}) == ""
    assert shortest_text({"Ref": "Bucket"}) == ""
    assert shortest_text({"Key": [{"Ref": "AWS::Partition"}], "Other": 1}) == {"Key": ["aws"], "Other": 1}
    # Whitespace is not counted, wherever it is.
    assert iam_policy_characters({"a b": "c d"}) == len('{"ab":"cd"}')


# --- E9072: managed policies where the execution policy may create them -----------------------------------------


def test_the_execution_policy_lets_cloudformation_create_policies_only_under_the_projects_path() -> None:
    from cfn_rules.iam_size import policy_patterns

    assert policy_patterns() == ("arn:*:iam::*:policy/mlops/*",)


def test_a_managed_policy_outside_the_projects_path_fires() -> None:
    # CDK's own OverflowPolicy: no Path, so the root.
    assert findings(template(Role=ROLE, M=_managed(200))) == [
        (
            "E9072",
            "managed policy M: path '/' is outside where the CloudFormation execution policy "
            "(bootstrap/execution-policy.json) may create policies (arn:*:iam::*:policy/mlops/*): the deploy would "
            "fail on iam:CreatePolicy (mlops_constructs/managed_policies.py)",
        )
    ]
    for path in ("/other/", "/mlopsx/", "/"):
        policy = _managed(200)
        policy["Properties"]["Path"] = path
        assert fired(template(Role=ROLE, M=policy)) == ["E9072"], path


def test_a_managed_policy_under_the_projects_path_passes() -> None:
    for path in ("/mlops/", "/mlops/serving/"):
        policy = _managed(200)
        policy["Properties"]["Path"] = path
        assert fired(template(Role=ROLE, M=policy)) == [], path
    named = _managed(200)
    named["Properties"].update(Path="/mlops/", ManagedPolicyName="mlops-invoke")
    assert fired(template(Role=ROLE, M=named)) == []
    unknown = _managed(200)
    unknown["Properties"]["Path"] = {"Fn::Sub": "/${Project}/"}  # a token: not judged
    assert fired(template(Role=ROLE, M=unknown)) == []
