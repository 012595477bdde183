"""Issue 13 section 2-3: each job gets the narrowest role it needs, and grants add nothing the job does not use.

Every test reads the synthesized templates of every stack kind (``all_templates``, tests/security/conftest.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

from mlops_constructs.model_monitor import CLARIFY_REGISTRIES, MODEL_MONITOR_REGISTRIES
from mlops_constructs.sagemaker_iam import OBJECT_WRITE_ACTIONS
from tests.security.iam_walker import Statement, statements

# What grant_read_write/grant_put add beyond writing objects.
LOCK_AND_DELETE = ("s3:DeleteObject", "s3:PutObjectRetention", "s3:PutObjectLegalHold", "s3:PutObjectVersion")
SDK_IMAGE_ACCOUNTS = {"141502667606"} | set(MODEL_MONITOR_REGISTRIES.values()) | set(CLARIFY_REGISTRIES.values())


def _environment_templates(all_templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The environments' stacks (not the release pipeline's, whose grants CDK Pipelines writes)."""
    return {name: template for name, template in all_templates.items() if not name.endswith("/Cicd")}


def _policies_of(template: dict[str, Any], role_prefix: str) -> list[Statement]:
    role_ids = {key for key, value in template["Resources"].items() if value["Type"] == "AWS::IAM::Role"}
    wanted = {key for key in role_ids if key.startswith(role_prefix)}
    return [
        statement
        for statement in statements(template)
        if statement.kind == "identity"
        and any(
            role.get("Ref") in wanted
            for role in template["Resources"][statement.logical_id].get("Properties", {}).get("Roles", [])
        )
    ]


def _monitoring(all_templates: dict[str, dict[str, Any]], variant: str, env: str) -> dict[str, Any]:
    """The model stack of breast-cancer: its monitoring resources have logical IDs starting with Monitoring."""
    return all_templates[f"{variant}/{env}/Serving-breast-cancer"]


def test_no_job_role_may_delete_or_lock_objects(all_templates: dict[str, dict[str, Any]]) -> None:
    offending = [
        f"{name} {statement.logical_id}: {action}"
        for name, template in _environment_templates(all_templates).items()
        for statement in statements(template)
        if statement.body.get("Effect") == "Allow"
        for action in statement.listed("Action")
        if isinstance(action, str) and action.startswith(LOCK_AND_DELETE)
    ]
    assert offending == []
    assert OBJECT_WRITE_ACTIONS == ("s3:PutObject", "s3:AbortMultipartUpload")


def test_roles_read_their_asset_objects_not_the_bootstrap_bucket(all_templates: dict[str, dict[str, Any]]) -> None:
    whole_bucket = re.compile(r"cdk-[a-z0-9]+-assets-\d{12}-[a-z0-9-]+/\*")
    offending = [
        f"{name} {statement.logical_id}"
        for name, template in _environment_templates(all_templates).items()
        for statement in statements(template)
        if statement.kind == "identity" and whole_bucket.search(json.dumps(statement.body.get("Resource")))
    ]
    assert offending == []
    # The drift pipeline reads exactly its two scripts, and lists the bucket only for those keys.
    drift = _policies_of(_monitoring(all_templates, "shipped", "prod"), "MonitoringDriftMonitorExecutionRole")
    listing = [s for s in drift if "s3:ListBucket" in s.listed("Action") and "assets" in json.dumps(s.body)]
    assert listing and all("s3:prefix" in json.dumps(s.body.get("Condition")) for s in listing)


def test_ecr_pulls_name_the_pinned_aws_image_accounts(all_templates: dict[str, dict[str, Any]]) -> None:
    pulls = [
        resource
        for template in _environment_templates(all_templates).values()
        for statement in statements(template)
        if "ecr:BatchGetImage" in statement.listed("Action")
        for resource in statement.listed("Resource")
    ]
    assert pulls
    for resource in pulls:
        match = re.fullmatch(r"arn:aws:ecr:eu-west-1:(\d{12}):repository/(sagemaker-[a-z-]+)", str(resource))
        assert match, resource
        assert match.group(1) in SDK_IMAGE_ACCOUNTS, resource


def test_the_drift_publishing_job_runs_as_its_own_role_without_captured_data(
    all_templates: dict[str, dict[str, Any]],
) -> None:
    template = _monitoring(all_templates, "shipped", "prod")
    # The drift pipeline (the model stack also holds prod's batch pipeline).
    (pipeline,) = [
        r
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::SageMaker::Pipeline" and k.startswith("MonitoringDriftMonitor")
    ]
    body, variables = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    steps = {step["Name"]: step["Arguments"] for step in json.loads(body)["Steps"]}
    assert steps["AnalyseDrift"]["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert steps["AnalyseDrift"]["RoleArn"].endswith("${ExecutionRoleName}")
    assert steps["PublishMetrics"]["NetworkConfig"]["EnableNetworkIsolation"] is False
    assert steps["PublishMetrics"]["RoleArn"].endswith("${PublishRoleName}")
    assert variables["PublishRoleName"]["Ref"].startswith("MonitoringDriftMonitorPublishRole")

    publish = json.dumps([s.body for s in _policies_of(template, "MonitoringDriftMonitorPublishRole")])
    execution = json.dumps([s.body for s in _policies_of(template, "MonitoringDriftMonitorExecutionRole")])
    assert "capture" not in publish and "capture" in execution
    assert "cloudwatch:PutMetricData" in publish and "cloudwatch:PutMetricData" not in execution
    assert "s3:PutObject" not in publish
    # The pipeline's role passes exactly the two job roles, to SageMaker only.
    (passing,) = [
        s for s in _policies_of(template, "MonitoringDriftMonitorExecutionRole") if "iam:PassRole" in s.listed("Action")
    ]
    passed = sorted(r["Fn::GetAtt"][0] for r in passing.listed("Resource"))
    assert len(passed) == 2
    assert passed[0].startswith("MonitoringDriftMonitorExecutionRole") and passed[1].startswith(
        "MonitoringDriftMonitorPublishRole"
    )
    assert passing.body["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_explainability_job_has_its_own_narrow_role(all_templates: dict[str, dict[str, Any]]) -> None:
    template = _monitoring(all_templates, "model-monitor", "prod")
    roles = {
        value["Type"]: value["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        for value in template["Resources"].values()
        if value["Type"].endswith("JobDefinition")
    }
    explain = roles.pop("AWS::SageMaker::ModelExplainabilityJobDefinition")
    assert explain.startswith("MonitoringModelMonitorExplainabilityRole")
    assert set(roles.values()) == {next(iter(roles.values()))} and explain not in roles.values()

    explain_statements = _policies_of(template, "MonitoringModelMonitorExplainabilityRole")
    writes = [json.dumps(s.body["Resource"]) for s in explain_statements if "s3:PutObject" in s.listed("Action")]
    assert writes and all("breast-cancer/model-monitor/explainability*" in w for w in writes)
    # Reads: this model's captures only, never the whole capture bucket.
    text = json.dumps([s.body for s in explain_statements])
    assert re.search(r"capture-\d{12}-eu-west-1/breast-cancer/\*", text)
    assert not re.search(r"capture-\d{12}-eu-west-1/\*", text)
    # The isolated jobs' role has no Clarify endpoint statement at all.
    isolated = json.dumps([s.body for s in _policies_of(template, "MonitoringModelMonitorRole")])
    assert "sagemaker:CreateEndpoint" not in isolated and "sagemaker:InvokeEndpoint" not in isolated


def test_clarify_may_change_only_its_shadow_endpoints(all_templates: dict[str, dict[str, Any]]) -> None:
    template = _monitoring(all_templates, "model-monitor", "prod")
    by_sid = {s.sid: s for s in _policies_of(template, "MonitoringModelMonitorExplainabilityRole")}
    shadow = json.dumps(by_sid["ClarifyShadowEndpoint"].body["Resource"])
    assert "endpoint/sm-clarify-*" in shadow and "endpoint-config/sm-clarify-*" in shadow
    assert "model/" not in shadow
    served = by_sid["ClarifyServedEndpoint"]
    assert sorted(served.listed("Action")) == ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]
    assert "endpoint/mlops-prod-breast-cancer-m5-large" in json.dumps(served.body["Resource"])


def test_pipeline_artifacts_are_versioned_and_their_access_logs_deliverable(
    all_templates: dict[str, dict[str, Any]],
) -> None:
    template = all_templates["shipped/Cicd"]
    buckets = {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::S3::Bucket"}
    artifacts = next(props for key, props in buckets.items() if key.startswith("PipelineArtifactsBucket"))
    assert artifacts["VersioningConfiguration"] == {"Status": "Enabled"}
    logs_bucket = artifacts["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert buckets[logs_bucket]["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    delivery = [
        s
        for s in statements(template)
        if s.resource_type == "AWS::S3::BucketPolicy" and "logging.s3.amazonaws.com" in json.dumps(s.body)
    ]
    assert len(delivery) == 1
    body = delivery[0].body
    assert body["Action"] == "s3:PutObject"
    assert body["Resource"]["Fn::Join"][1][0] == {"Fn::GetAtt": [logs_bucket, "Arn"]}
    assert body["Resource"]["Fn::Join"][1][1] == "/artifacts/*"
    assert body["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::GetAtt"][0].startswith("PipelineArtifactsBucket")
    assert body["Condition"]["StringEquals"]["aws:SourceAccount"] == "444444444444"


def test_the_asset_publishing_role_starts_only_the_asset_projects(all_templates: dict[str, dict[str, Any]]) -> None:
    template = all_templates["shipped/Cicd"]
    starts = [
        s
        for s in statements(template)
        if s.logical_id.startswith("PipelineAssetsFileRoleDefaultPolicy")
        and "codebuild:StartBuild" in s.listed("Action")
    ]
    assert len(starts) == 1
    projects = [r["Fn::GetAtt"][0] for r in starts[0].listed("Resource")]
    assert projects and all(p.startswith("PipelineAssetsFileAsset") for p in projects)


def test_the_source_action_uses_the_connection_with_the_matching_prefix(
    all_templates: dict[str, dict[str, Any]],
) -> None:
    uses = [
        s for s in statements(all_templates["shipped/Cicd"]) if any(":UseConnection" in a for a in s.listed("Action"))
    ]
    assert uses and all(s.listed("Action") == ["codeconnections:UseConnection"] for s in uses)
    assert all(str(s.body["Resource"]).startswith("arn:aws:codeconnections:") for s in uses)


def test_every_build_logs_to_its_own_kept_and_encrypted_group(all_templates: dict[str, dict[str, Any]]) -> None:
    resources = all_templates["shipped/Cicd"]["Resources"]
    projects = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CodeBuild::Project"}
    assert len(projects) >= 4
    groups = []
    for name, props in projects.items():
        logs_config = props["LogsConfig"]["CloudWatchLogs"]
        assert logs_config["Status"] == "ENABLED", name
        group = resources[logs_config["GroupName"]["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["RetentionInDays"] == 365
        assert group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0].startswith("PipelineArtifactsBucketEncryptionKey")
        assert group["DeletionPolicy"] == "Retain"
        groups.append(logs_config["GroupName"]["Ref"])
    assert len(set(groups)) == len(projects)
    key_policy = json.dumps(
        next(v for k, v in resources.items() if k.startswith("PipelineArtifactsBucketEncryptionKey"))["Properties"]
    )
    assert "logs.eu-west-1.amazonaws.com" in key_policy and "kms:EncryptionContext:aws:logs:arn" in key_policy


def test_model_monitor_reads_labels_kept_outside_the_capture_prefix() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template

    from mlops_constructs.model_monitor import ModelMonitorSchedules, MonitorBaselines
    from tests.conftest import cdk_feature_flags

    def reads(ground_truth_prefix: str) -> str:
        app = cdk.App(context=cdk_feature_flags())
        stack = cdk.Stack(app, "Test", env=cdk.Environment(account="333333333333", region="eu-west-1"))
        capture = s3.Bucket.from_bucket_name(stack, "Capture", "capture")
        other = s3.Bucket.from_bucket_name(stack, "Other", "other")
        ModelMonitorSchedules(
            stack,
            "Monitor",
            endpoint_name="endpoint",
            schedule_expression="cron(0 * ? * * *)",
            baselines=MonitorBaselines(model_quality_constraints_uri="s3://other/c.json"),
            capture_bucket=capture,
            baseline_bucket=other,
            output_bucket=other,
            output_prefix="m/",
            key=kms.Key(stack, "Key"),
            ground_truth_uri=f"s3://capture/{ground_truth_prefix}",
            kinds=["model-quality"],
            capture_prefix="model/",
            ground_truth_prefix=ground_truth_prefix,
            baseline_prefix="baselines/",
        )
        return json.dumps(Template.from_stack(stack).find_resources("AWS::IAM::Policy"))

    inside = reads("model/ground-truth/")
    assert "arn:aws:s3:::capture/model/*" in inside and "labels/" not in inside
    outside = reads("labels/model/")
    assert "arn:aws:s3:::capture/model/*" in outside and "arn:aws:s3:::capture/labels/model/*" in outside
    assert "arn:aws:s3:::capture/*" not in outside
