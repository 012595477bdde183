"""E9070 (KMS keys named by key ARN in IAM policies) and E9080 (conditional-write denies exempt multipart parts)."""

from __future__ import annotations

from typing import Any

from tests.cfn_rules.lint_helpers import fired, template

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
