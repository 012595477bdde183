"""Self-contained environments: promotion copies the approved package into each account, and nothing else in
staging or prod reaches the registry (dev) account's buckets or keys."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from mlops_config import parse_config
from mlops_constructs.lambda_runtime import POWERTOOLS_ACCOUNT
from mlops_constructs.promotion import BASELINE_FILES, BASELINE_SOURCES, promoted_paths, promotion_role_name
from tests.conftest import APPROVED_PACKAGE, build_app, raw_default_config
from tests.infra.stack_parts import part_template

DEV_ACCOUNT = "111111111111"
MODEL = "breast-cancer"
# The copier's read grant: the only statements of a staging or prod template that may name dev's bucket or key.
COPIER_READ_SIDS = {"ReadRegistryPackageArtifacts", "DecryptRegistryArtifactsViaS3"}


def walk(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a template with its JSON path (intrinsic functions included)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def dev_storage_references(template: dict[str, Any]) -> list[tuple[str, str]]:
    """Strings naming dev's buckets or key: every derived dev name (``mlops-dev-*``, its key alias included) and
    every KMS ARN in dev's account."""
    return [
        (path, text)
        for path, text in walk(template)
        if "mlops-dev-" in text or (":kms:" in text and DEV_ACCOUNT in text)
    ]


def copier_read_statements(template: dict[str, Any]) -> set[str]:
    """JSON paths of the copier's read-grant statements in ``template``."""
    paths = set()
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for index, statement in enumerate(resource["Properties"]["PolicyDocument"]["Statement"]):
            if statement.get("Sid") in COPIER_READ_SIDS:
                paths.add(f".Resources.{logical_id}.Properties.PolicyDocument.Statement[{index}]")
    return paths


@pytest.fixture(scope="module")
def model_monitor_app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """staging on the open backend, prod on Model Monitor with all four kinds, version 3 served (cdk-nag passes)."""
    raw = raw_default_config()
    raw["models"][0]["environments"]["staging"]["monitoring"] = {"backend": "open"}
    raw["models"][0]["environments"]["prod"]["monitoring"] = {
        "backend": "model_monitor",
        "bias": True,
        "explainability": True,
    }
    config = parse_config(raw, source=Path("test.yaml"))
    app, stages = build_app(
        config,
        approved={env: {MODEL: APPROVED_PACKAGE} for env in ("staging", "prod")},
        environments=["staging", "prod"],
        outdir=tmp_path_factory.mktemp("cdk.out.promotion"),
    )
    app.synth()
    return dict(stages)


@pytest.fixture(scope="module")
def stacks(approved_app: Any) -> dict[str, dict[str, Any]]:
    _, stages = approved_app
    result = {}
    for env in ("staging", "prod"):
        stage = stages[env]
        for stack in (stage.data, *stage.models.values()):
            result[stack.stack_name] = dict(Template.from_stack(stack).to_json())
    return result


def test_staging_and_prod_name_dev_storage_only_in_the_copiers_read_grant(stacks: dict[str, dict[str, Any]]) -> None:
    seen_grant = set()
    for name, template in stacks.items():
        allowed = copier_read_statements(template)
        for path, text in dev_storage_references(template):
            statement = next((p for p in allowed if path.startswith(p + ".")), None)
            assert statement is not None, f"{name}: {path} names dev storage outside the copier's read grant: {text}"
            seen_grant.add(name)
    # The walk did find the grant (so it can see dev references at all): one per serving stack.
    assert seen_grant == {"mlops-staging-breast-cancer-serving", "mlops-prod-breast-cancer-serving"}


def test_nothing_that_runs_in_staging_or_prod_refers_to_the_dev_account(stacks: dict[str, dict[str, Any]]) -> None:
    """Models, endpoints, batch pipelines, monitors carry no dev ARN: deleting dev leaves them serving and scaling."""
    runtime_types = (
        "AWS::SageMaker::",
        "AWS::ApplicationAutoScaling::",
        "AWS::Scheduler::",
        "AWS::S3::",
        "AWS::KMS::",
    )
    for name, template in stacks.items():
        for logical_id, resource in template["Resources"].items():
            if not resource["Type"].startswith(runtime_types):
                continue
            properties = dict(resource.get("Properties", {}))
            # Lineage tags name the package the copy came from (metadata, never read at run time).
            properties.pop("Tags", None)
            if resource["Type"] == "AWS::SageMaker::Pipeline":
                properties.pop("PipelineDescription", None)
            text = json.dumps(properties)
            assert DEV_ACCOUNT not in text and "mlops-dev-" not in text, f"{name}: {logical_id} refers to dev"


def test_copier_role_name_is_what_the_registry_trusts(approved_app: Any) -> None:
    _, stages = approved_app
    dev = Template.from_stack(stages["dev"].data).to_json()
    (group,) = [
        r
        for r in dev["Resources"].values()
        if r["Type"] == "AWS::SageMaker::ModelPackageGroup"
        and r["Properties"]["ModelPackageGroupName"] == f"mlops-{MODEL}"
    ]
    patterns = group["Properties"]["ModelPackageGroupPolicy"]["Statement"][0]["Condition"]["StringLike"][
        "aws:PrincipalArn"
    ]
    for env, account in (("staging", "222222222222"), ("prod", "333333333333")):
        serving = part_template(stages[env].serving[MODEL])
        (role,) = [r for r in serving.find_resources("AWS::IAM::Role").values() if "RoleName" in r["Properties"]]
        name = role["Properties"]["RoleName"]
        assert name == promotion_role_name("mlops", env, MODEL)
        arn = f"arn:aws:iam::{account}:role/{name}"
        assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns), (arn, patterns)
    # No other environment's role matches another account's pattern.
    assert not any(
        fnmatch.fnmatchcase(f"arn:aws:iam::222222222222:role/mlops-prod-promote-{MODEL}", p) for p in patterns
    )


def test_copier_reads_only_the_package_and_its_artifacts_across_accounts(approved_app: Any) -> None:
    _, stages = approved_app
    serving = part_template(stages["prod"].serving[MODEL]).to_json()
    statements = {
        s["Sid"]: s
        for r in serving["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "Sid" in s
    }
    assert statements["DescribePromotedPackage"]["Resource"] == APPROVED_PACKAGE
    bucket = f"arn:aws:s3:::mlops-dev-models-{DEV_ACCOUNT}-eu-west-1/{MODEL}"
    assert sorted(statements["ReadRegistryPackageArtifacts"]["Resource"]) == [
        f"{bucket}/*/DataQualityBaseline/*",
        f"{bucket}/*/ModelQualityBaseline/*",
        f"{bucket}/*/Preprocess/baseline/*",
        f"{bucket}/*/Train/*/output/model.tar.gz",
    ]
    assert statements["DecryptRegistryArtifactsViaS3"]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/mlops-dev-data"},
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
    }
    copies = statements["WriteAndVerifyPromotedCopies"]
    assert copies["Resource"] == f"arn:aws:s3:::mlops-prod-models-333333333333-eu-west-1/promoted/{MODEL}/*"
    assert sorted(copies["Action"]) == ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]


def test_copier_custom_resource_and_function(model_monitor_app: dict[str, Any]) -> None:
    stages = model_monitor_app
    template = part_template(stages["prod"].serving[MODEL])
    (resource,) = template.find_resources("Custom::ModelPromotion").values()
    properties = resource["Properties"]
    paths = promoted_paths(MODEL, 3)
    assert properties["PackageArn"] == APPROVED_PACKAGE
    assert properties["Bucket"] == "mlops-prod-models-333333333333-eu-west-1"
    assert properties["ArtifactKey"] == paths.artifact_key == f"promoted/{MODEL}/v3/model.tar.gz"
    assert properties["ServiceTimeout"] == "960"
    assert "DataKey" in json.dumps(properties["KmsKeyArn"])
    assert properties["ImagePrefixes"] == [
        {"Fn::Join": ["", ["141502667606.dkr.ecr.eu-west-1.", {"Ref": "AWS::URLSuffix"}, "/sagemaker-xgboost:"]]}
    ]
    # prod monitors with Model Monitor (data quality, model quality, bias, explainability): all their baselines
    # must come with the package, or the promotion fails naming them.
    assert properties["RequiredBaselines"] == sorted(set(BASELINE_FILES) - {"training"})
    assert resource.get("DeletionPolicy") in (None, "Delete"), "Delete is a no-op in the handler: copies stay"
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handler.lambda_handler",
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "Timeout": 900,
            "Layers": [
                f"arn:aws:lambda:eu-west-1:{POWERTOOLS_ACCOUNT}:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
            ],
        },
    )
    (log_group,) = (
        group
        for logical_id, group in template.find_resources("AWS::Logs::LogGroup").items()
        if logical_id.startswith("Promotion")
    )
    assert "DataKey" in json.dumps(log_group["Properties"]["KmsKeyId"])
    assert log_group["Properties"]["RetentionInDays"] == 365
    # staging monitors with the open backend: nothing required (the training baseline is copied when recorded).
    staging = part_template(stages["staging"].serving[MODEL])
    (staging_copy,) = staging.find_resources("Custom::ModelPromotion").values()
    assert staging_copy["Properties"]["RequiredBaselines"] == []


def test_monitors_read_exactly_where_the_copier_writes(model_monitor_app: dict[str, Any]) -> None:
    """One naming function: the copier's Baselines property and every monitor's baseline URIs agree."""
    stages = model_monitor_app
    assert [stages[env].monitoring[MODEL].backend for env in ("staging", "prod")] == ["open", "model_monitor"]
    for env in ("staging", "prod"):
        serving = part_template(stages[env].serving[MODEL])
        (copy,) = serving.find_resources("Custom::ModelPromotion").values()
        bucket = copy["Properties"]["Bucket"]
        written = {spec["Name"]: spec["Key"] for spec in copy["Properties"]["Baselines"]}
        assert set(written) == set(BASELINE_SOURCES)
        monitoring = part_template(stages[env].monitoring[MODEL]).to_json()
        text = json.dumps(monitoring)
        assert bucket in text, env
        # Keys are unique (promoted/<model>/v<version>/baselines/<file>); a monitor may name them in an S3 URI or as
        # bucket and key properties.
        read = sorted(name for name, key in written.items() if key in text)
        if stages[env].monitoring[MODEL].backend == "model_monitor":
            # Every Model Monitor baseline is read from the copy (a Clarify config writer may read the explainability
            # config instead of the job itself: it is still the copy's key).
            assert read == sorted(name for name in written if name != "training"), env
        else:
            # The open backend reads the folder of the training baseline (its pipeline parameter's default).
            folder = written["training"].rsplit("/", 1)[0] + "/"
            assert f"s3://{bucket}/{folder}" in text.replace("${ArtifactBucket}", bucket), env


def test_lineage_outputs_and_endpoint_tags(approved_app: Any) -> None:
    _, stages = approved_app
    template = part_template(stages["prod"].serving[MODEL])
    (copy_id,) = template.find_resources("Custom::ModelPromotion")
    outputs = template.to_json()["Outputs"]
    assert outputs["ServedModelPackageArn"]["Value"] == APPROVED_PACKAGE
    assert outputs["ModelArtifactSha256"]["Value"] == {"Fn::GetAtt": [copy_id, "ArtifactSha256"]}
    assert outputs["PromotedModelDataUrl"]["Value"] == {"Fn::GetAtt": [copy_id, "ModelDataUrl"]}
    assert outputs["SourceModelDataUrl"]["Value"] == {"Fn::GetAtt": [copy_id, "SourceModelDataUrl"]}
    (endpoint,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    tags = {t["Key"]: t["Value"] for t in endpoint["Properties"]["Tags"]}
    assert tags["mlops:model-package-arn"] == APPROVED_PACKAGE
    assert tags["mlops:model-artifact-sha256"] == {"Fn::GetAtt": [copy_id, "ArtifactSha256"]}
    assert tags["mlops:model-data-url"] == {"Fn::GetAtt": [copy_id, "ModelDataUrl"]}
