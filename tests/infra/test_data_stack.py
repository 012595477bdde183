"""The stateful core: encryption, TLS-only and private buckets, key rotation, registry policy, retention, stable IDs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.conftest import build_app


@pytest.fixture(scope="module")
def templates(default_app: Any) -> dict[str, Template]:
    _, stages = default_app
    return {name: Template.from_stack(stage.data) for name, stage in stages.items()}


def _buckets(template: Template) -> Mapping[str, Any]:
    return template.find_resources("AWS::S3::Bucket")


def test_every_bucket_is_encrypted_private_and_versioned(templates: dict[str, Template]) -> None:
    for template in templates.values():
        buckets = _buckets(template)
        assert len(buckets) == 5
        for logical_id, bucket in buckets.items():
            props = bucket["Properties"]
            assert props["PublicAccessBlockConfiguration"] == {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            }, logical_id
            assert props["VersioningConfiguration"] == {"Status": "Enabled"}
            rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            if logical_id.startswith("AccessLogs"):
                assert rule == {"SSEAlgorithm": "AES256"}  # S3 delivers access logs only to SSE-S3 buckets
            else:
                assert rule["SSEAlgorithm"] == "aws:kms"
                assert rule["KMSMasterKeyID"]["Fn::GetAtt"][0].startswith("DataKey")
                assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith("AccessLogs")


def test_every_bucket_denies_plain_http_and_old_tls(templates: dict[str, Template]) -> None:
    for template in templates.values():
        policies = template.find_resources("AWS::S3::BucketPolicy")
        assert len(policies) == 5
        for policy in policies.values():
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            denies = [s for s in statements if s["Effect"] == "Deny"]
            conditions = [s["Condition"] for s in denies]
            assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
            assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_key_rotation_and_alias(templates: dict[str, Template]) -> None:
    for env, template in templates.items():
        template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
        template.has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/mlops-{env}-data"})


def test_topic_is_encrypted_with_the_environment_key(templates: dict[str, Template]) -> None:
    for template in templates.values():
        template.has_resource_properties(
            "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("DataKey"), "Arn"]}}
        )


def test_registry_lives_where_models_train_and_names_exactly_the_serving_accounts(
    templates: dict[str, Template],
) -> None:
    groups = templates["dev"].find_resources("AWS::SageMaker::ModelPackageGroup")
    names = sorted(g["Properties"]["ModelPackageGroupName"] for g in groups.values())
    assert names == ["mlops-breast-cancer", "mlops-diabetes"]  # one group per configured model
    group = next(g for g in groups.values() if g["Properties"]["ModelPackageGroupName"] == "mlops-breast-cancer")
    statement = group["Properties"]["ModelPackageGroupPolicy"]["Statement"][0]
    principals = statement["Principal"]["AWS"]
    accounts = sorted(p["Fn::Join"][1][3] if isinstance(p, dict) else p for p in principals)
    assert [a.split(":")[4] if a.startswith("arn") else a for a in accounts] == ["222222222222", "333333333333"] or (
        "222222222222" in str(principals)
        and "333333333333" in str(principals)
        and "111111111111" not in str(principals)
    )
    # Only the promotion roles of staging and prod, by derived name, and only DescribeModelPackage.
    assert statement["Action"] == "sagemaker:DescribeModelPackage"
    assert statement["Condition"] == {"StringLike": {"aws:PrincipalArn": PROMOTERS}}
    for env in ("staging", "prod"):
        assert templates[env].find_resources("AWS::SageMaker::ModelPackageGroup") == {}


def _principal_accounts(statement: dict[str, Any]) -> list[str]:
    text = str(statement["Principal"])
    return sorted(a for a in ("111111111111", "222222222222", "333333333333") if a in text)


PROMOTERS = [
    "arn:aws:iam::222222222222:role/mlops-staging-promote-*",
    "arn:aws:iam::333333333333:role/mlops-prod-promote-*",
]


def _bucket_statements(template: Template) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::S3::BucketPolicy")
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_only_promotion_roles_read_package_artifacts_and_only_those(templates: dict[str, Template]) -> None:
    dev = templates["dev"]
    statements = _bucket_statements(dev)
    assert not [s for s in statements if s.get("Sid") == "ServingAccountsReadModels"], "no read of every object"
    read = next(s for s in statements if s.get("Sid") == "PromotersReadPackageArtifacts")
    assert _principal_accounts(read) == ["222222222222", "333333333333"]
    assert read["Action"] == "s3:GetObject"
    bucket = "arn:aws:s3:::mlops-dev-models-111111111111-eu-west-1"
    # Tarballs and baselines (the training steps a package records), not splits, evaluations or predictions.
    assert sorted(read["Resource"]) == [
        f"{bucket}/*/DataQualityBaseline/*",
        f"{bucket}/*/ModelQualityBaseline/*",
        f"{bucket}/*/Preprocess/baseline/*",
        f"{bucket}/*/Train/*/output/model.tar.gz",
    ]
    assert read["Condition"] == {"StringLike": {"aws:PrincipalArn": PROMOTERS}}
    key = next(iter(dev.find_resources("AWS::KMS::Key").values()))
    decrypt = next(
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "PromotersDecryptPackageArtifactsViaS3"
    )
    assert _principal_accounts(decrypt) == ["222222222222", "333333333333"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {
        "StringLike": {"aws:PrincipalArn": PROMOTERS},
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
    }
    for env in ("staging", "prod"):
        assert "Promoters" not in json.dumps(templates[env].to_json()), f"{env} grants nothing to other accounts"


def test_registry_artifact_patterns_follow_the_training_pipeline_outputs() -> None:
    from mlops_constructs.promotion import REGISTRY_ARTIFACT_PATTERNS
    from pipeline_defs import training_pipeline as tp

    steps = {pattern.split("/")[1] for pattern in REGISTRY_ARTIFACT_PATTERNS}
    assert steps == {tp.TRAIN_STEP, tp.DATA_QUALITY_STEP, tp.MODEL_QUALITY_STEP, tp.PREPROCESS_STEP}


@pytest.mark.parametrize(
    ("env", "account"), [("dev", "111111111111"), ("staging", "222222222222"), ("prod", "333333333333")]
)
def test_promoted_copies_are_written_only_by_promotion_and_never_overwritten(
    templates: dict[str, Template], env: str, account: str
) -> None:
    statements = {s.get("Sid"): s for s in _bucket_statements(templates[env])}
    copies = f"arn:aws:s3:::mlops-{env}-models-{account}-eu-west-1/promoted/*"
    only = statements["OnlyPromotionWritesPromotedCopies"]
    assert (only["Effect"], only["Principal"], only["Action"], only["Resource"]) == (
        "Deny",
        {"AWS": "*"},
        "s3:PutObject",
        copies,
    )
    assert only["Condition"] == {
        "StringNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{account}:role/mlops-{env}-promote-*"}
    }
    never = statements["PromotedCopiesAreNeverOverwritten"]
    assert (never["Effect"], never["Action"], never["Resource"]) == ("Deny", "s3:PutObject", copies)
    assert never["Condition"] == {
        "Null": {"s3:if-none-match": "true"},
        "Bool": {"s3:ObjectCreationOperation": "true"},
    }


STATEFUL_TYPES = ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::SageMaker::ModelPackageGroup", "AWS::SNS::Topic")


@pytest.mark.parametrize(("env", "policy"), [("dev", "Delete"), ("staging", "Retain"), ("prod", "Retain")])
def test_retention_follows_the_environment(templates: dict[str, Template], env: str, policy: str) -> None:
    template = templates[env].to_json()
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::SageMaker::ModelPackageGroup"):
            assert resource.get("DeletionPolicy") == policy, logical_id
            assert resource.get("UpdateReplacePolicy") == policy, logical_id


# Renaming one of these replaces a key, a bucket or the registry: data loss. Change them only on purpose.
PINNED_LOGICAL_IDS = {
    "dev": {
        "DataKey17AFBB84",
        "AccessLogs8B620ECA",
        "TrainingData3FDB6D34",
        "Artifacts82DD59A1",
        "DataCapture91154E3A",
        "MonitoringReports4B3CF795",
        "Notifications87298708",
        "RegistrybreastcancerA83C0445",
        "RegistrydiabetesF16743F3",
    },
}


def test_stateful_logical_ids_are_stable(templates: dict[str, Template]) -> None:
    for env, pinned in PINNED_LOGICAL_IDS.items():
        resources = templates[env].to_json()["Resources"]
        actual = {lid for lid, r in resources.items() if r["Type"] in STATEFUL_TYPES}
        assert actual == pinned


def test_production_stack_has_termination_protection(default_app: Any) -> None:
    _, stages = default_app
    assert stages["prod"].data.termination_protection is True
    assert stages["dev"].data.termination_protection is False


def test_one_environment_only(default_config: Any) -> None:
    _, stages = build_app(default_config, environments=["staging"])
    assert list(stages) == ["staging"]
