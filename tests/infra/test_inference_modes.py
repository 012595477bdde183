"""The inference modes of issue 16 on the example configuration (config/examples/inference-modes.yaml): one model
in each mode, synthesized once with cdk-nag, cfn-lint and the project rules; the resources, scaling policies,
alarms and dashboards of each mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template

from mlops_config import load_config
from mlops_config.approved import load_approved_models
from scripts.synth_report import ACK_METADATA, collect, lint, project_findings
from tests.conftest import REPO, build_app
from tests.infra.acknowledgements import assert_reviewed_reasons
from tests.infra.stack_parts import part_template

EXAMPLE = REPO / "config" / "examples" / "inference-modes.yaml"
EXAMPLE_APPROVED = REPO / "config" / "examples" / "approved-models.inference-modes.json"
DATA_BUCKET = "mlops-staging-data-222222222222-eu-west-1"
ASYNC_ENDPOINT = "mlops-staging-claims-async-async-m5-large"
SHADOW_ENDPOINT = "mlops-staging-breast-cancer-m5-large"
SHARED_ENDPOINT = "mlops-staging-shared-ic-m5-xlarge"


@pytest.fixture(scope="module")
def example_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    config = load_config(EXAMPLE)
    approved = load_approved_models(EXAMPLE_APPROVED, config)
    app, stages = build_app(config, approved=approved, outdir=tmp_path_factory.mktemp("cdk.out.modes"))
    app.synth()
    return app, stages


@pytest.fixture(scope="module")
def staging(example_app: tuple[Any, dict[str, Any]]) -> Any:
    return example_app[1]["staging"]


def only(template: Template, type_: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(type_)
    assert len(found) == 1, sorted(found)
    logical_id, resource = next(iter(found.items()))
    return logical_id, resource["Properties"]


# --- gates ---


def test_example_synthesizes_every_mode_clean_under_nag_cfn_lint_and_project_rules(
    example_app: tuple[Any, dict[str, Any]],
) -> None:
    app, stages = example_app
    outdir = Path(app.outdir)
    report = json.loads((outdir / "validation-report.json").read_text(encoding="utf-8"))
    assert [(r["conclusion"], r["violations"]) for r in report["pluginReports"]] == [("success", [])]
    reasons = [
        reason
        for metadata_file in outdir.rglob("*.metadata.json")
        for entries in json.loads(metadata_file.read_text(encoding="utf-8")).values()
        for entry in entries
        if entry["type"] == ACK_METADATA
        for reason in entry["data"].values()
    ]
    assert_reviewed_reasons("inference_modes", reasons)
    reports = collect(outdir)
    findings = lint([r.template for r in reports])
    assert findings == [] and project_findings(findings) == []
    modes = {name: stack.endpoint.mode for name, stack in stages["staging"].serving.items()}
    assert modes == {
        "breast-cancer": "realtime",
        "claims-async": "async",
        "triage-ic": "components",
        "routing-ic": "components",
    }
    assert stages["staging"].serving["breast-cancer"].shadow is not None


# --- asynchronous endpoints ---


def test_async_endpoint_config_writes_to_the_environment_bucket_with_its_key_and_topics(staging: Any) -> None:
    stack = staging.serving["claims-async"]
    template = part_template(stack)
    _, config = only(template, "AWS::SageMaker::EndpointConfig")
    output = config["AsyncInferenceConfig"]["OutputConfig"]
    assert output["S3OutputPath"] == f"s3://{DATA_BUCKET}/claims-async/async/output"
    assert output["S3FailurePath"] == f"s3://{DATA_BUCKET}/claims-async/async/failures"
    assert output["KmsKeyId"] == config["DataCaptureConfig"]["KmsKeyId"] == config["KmsKeyId"]
    topics = template.find_resources("AWS::SNS::Topic")
    assert sorted(output["NotificationConfig"].values(), key=str) == sorted(
        ({"Ref": logical_id} for logical_id in topics), key=str
    )
    assert all("KmsMasterKeyId" in topic["Properties"] for topic in topics.values())
    assert config["AsyncInferenceConfig"]["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 4}
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == (
        "s3://mlops-staging-capture-222222222222-eu-west-1/claims-async"
    )
    _, endpoint = only(template, "AWS::SageMaker::Endpoint")
    assert endpoint["EndpointName"] == ASYNC_ENDPOINT
    assert endpoint["RetainAllVariantProperties"] is True


def test_async_model_role_reads_requests_writes_results_and_notifies(staging: Any) -> None:
    template = part_template(staging.serving["claims-async"])
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s.get("Sid"): s for s in statements if s.get("Sid")}
    objects = f"arn:aws:s3:::{DATA_BUCKET}/claims-async/async/"
    assert by_sid["ReadAsyncRequests"]["Action"] == "s3:GetObject"
    assert by_sid["ReadAsyncRequests"]["Resource"] == f"{objects}input/*"
    assert sorted(by_sid["WriteAsyncResults"]["Resource"]) == [f"{objects}failures/*", f"{objects}output/*"]
    assert by_sid["NotifyAsyncResults"]["Action"] == "sns:Publish"
    assert len(by_sid["NotifyAsyncResults"]["Resource"]) == 2


def test_async_scales_to_zero_on_backlog_and_back_up_on_backlog_without_capacity(staging: Any) -> None:
    template = part_template(staging.serving["claims-async"])
    _, target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 2)
    assert target["ResourceId"] == f"endpoint/{ASYNC_ENDPOINT}/variant/AllTraffic"
    policies = {
        p["Properties"]["PolicyType"]: p["Properties"]
        for p in template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    tracking = policies["TargetTrackingScaling"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking == {
        "CustomizedMetricSpecification": {
            "Dimensions": [{"Name": "EndpointName", "Value": ASYNC_ENDPOINT}],
            "MetricName": "ApproximateBacklogSizePerInstance",
            "Namespace": "AWS/SageMaker",
            "Statistic": "Average",
        },
        "ScaleInCooldown": 600,
        "ScaleOutCooldown": 60,
        "TargetValue": 5,
    }
    assert policies["StepScaling"]["StepScalingPolicyConfiguration"] == {
        "AdjustmentType": "ChangeInCapacity",
        "Cooldown": 300,
        "MetricAggregationType": "Average",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    }
    step_id = next(
        logical_id
        for logical_id, p in template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if p["Properties"]["PolicyType"] == "StepScaling"
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "HasBacklogWithoutCapacity",
            "Namespace": "AWS/SageMaker",
            "Dimensions": [{"Name": "EndpointName", "Value": ASYNC_ENDPOINT}],
            "Statistic": "Average",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 2,
            "TreatMissingData": "missing",
            "AlarmActions": [{"Ref": step_id}],
        },
    )


def test_async_alarms_watch_queue_age_and_failures_not_invocations(staging: Any) -> None:
    monitoring = staging.monitoring["claims-async"]
    specs = {spec.construct_id: spec for spec in monitoring.alarms.specs}
    assert "EndpointInvocationErrorRate" not in specs, "asynchronous endpoints publish no Invocations"
    assert {"AsyncOldestRequestAge", "AsyncInvocationFailures", "AsyncDeliveryFailures", "Endpoint5xxErrors"} <= set(
        specs
    )
    template = part_template(monitoring)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateAgeOfOldestRequest",
            "Dimensions": [{"Name": "EndpointName", "Value": ASYNC_ENDPOINT}],
            "Statistic": "Maximum",
            "Threshold": 900,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "InvocationFailures",
            "Dimensions": [
                {"Name": "EndpointName", "Value": ASYNC_ENDPOINT},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            "Statistic": "Sum",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )
    body = json.dumps(template.find_resources("AWS::CloudWatch::Dashboard"))
    assert "Queued requests (backlog)" in body and "ApproximateBacklogSize" in body
    # The drift monitor reads the asynchronous endpoint's captured data like a real-time one's.
    assert monitoring.backend == "open" and monitoring.drift_pipeline is not None
    assert monitoring.drift_pipeline_settings.capture_prefix == "claims-async/"
    assert monitoring.drift_pipeline_settings.endpoint_name == ASYNC_ENDPOINT


# --- shadow tests ---


def test_shadow_endpoint_serves_production_and_copies_a_share_to_the_candidate(staging: Any) -> None:
    stack = staging.serving["breast-cancer"]
    template = part_template(stack)
    _, config = only(template, "AWS::SageMaker::EndpointConfig")
    (production,) = config["ProductionVariants"]
    (shadow,) = config["ShadowProductionVariants"]
    assert (production["VariantName"], production["InitialVariantWeight"]) == ("AllTraffic", 1)
    assert (shadow["VariantName"], shadow["InitialVariantWeight"], shadow["InstanceType"]) == (
        "Shadow",
        0.25,
        "ml.m5.large",
    )
    assert production["ModelName"] == {"Fn::GetAtt": ["Model0301700E", "ModelName"]}
    assert shadow["ModelName"]["Fn::GetAtt"][0].startswith("ShadowModel")
    copies = template.find_resources("Custom::ModelPromotion")
    packages = sorted(c["Properties"]["PackageArn"] for c in copies.values())
    assert packages == [
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/2",
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3",
    ]
    described = sorted(
        json.dumps(statement["Resource"])
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "sagemaker:DescribeModelPackage"
    )
    assert described == [json.dumps(package) for package in packages], "the one copier promotes both versions"
    models = template.find_resources("AWS::SageMaker::Model")
    urls = {lid: m["Properties"]["PrimaryContainer"]["ModelDataUrl"]["Fn::GetAtt"][0] for lid, m in models.items()}
    assert urls["Model0301700E"].startswith("PromotionCopyProduction")
    assert next(u for lid, u in urls.items() if lid.startswith("ShadowModel")).startswith("PromotionCopy9")
    template.has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "Tags": Match.array_with(
                [
                    {
                        "Key": "mlops:production-package-arn",
                        "Value": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/2",
                    },
                    {
                        "Key": "mlops:shadow-package-arn",
                        "Value": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3",
                    },
                ]
            )
        },
    )


def test_shadow_comparison_alarms_use_metric_math_and_sit_on_the_dashboard(staging: Any) -> None:
    monitoring = staging.monitoring["breast-cancer"]
    comparison = monitoring.shadow_comparison
    assert comparison is not None
    template = part_template(monitoring)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    expressions = {
        next(m["Expression"] for m in a["Properties"]["Metrics"] if "Expression" in m): a["Properties"]
        for a in alarms.values()
        if "shadow" in a["Properties"]["AlarmDescription"]
        and any("Expression" in m for m in a["Properties"].get("Metrics", []))
    }
    latency = expressions["IF(production > 0, shadow / production, 0)"]
    assert (latency["Threshold"], latency["ComparisonOperator"]) == (1.5, "GreaterThanThreshold")
    errors = expressions["100 * (s4 + s5) / MAX([sinv, 1]) - 100 * (p4 + p5) / MAX([pinv, 1])"]
    assert errors["Threshold"] == 1
    variants = {
        m["Id"]: next(d["Value"] for d in m["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "VariantName")
        for m in errors["Metrics"]
        if "MetricStat" in m
    }
    assert variants == {
        "s4": "Shadow",
        "s5": "Shadow",
        "sinv": "Shadow",
        "p4": "AllTraffic",
        "p5": "AllTraffic",
        "pinv": "AllTraffic",
    }
    body = json.dumps(template.find_resources("AWS::CloudWatch::Dashboard"))
    assert "Shadow vs production: p99 model latency (us)" in body
    assert "Shadow minus production error rate" in body


def test_shadow_prediction_drift_is_compared_by_the_open_drift_job_and_alarmed(staging: Any) -> None:
    """The open backend's drift job reads the shadow variant's capture; its PSI has an alarm on the shadow row."""
    monitoring = staging.monitoring["breast-cancer"]
    assert monitoring.backend == "open"
    template = Template.from_stack(Stack.of(monitoring))
    pipeline = next(iter(template.find_resources("AWS::SageMaker::Pipeline").values()))
    body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0]
    analyse = next(step for step in json.loads(body)["Steps"] if step["Name"] == "AnalyseDrift")
    arguments = analyse["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[-2:] == ["--shadow-capture-dir", f"/opt/ml/processing/input/data/{SHADOW_ENDPOINT}/Shadow"]
    comparison = monitoring.shadow_comparison
    assert comparison is not None and comparison.prediction_drift_alarm is not None
    alarm_id = Stack.of(monitoring).get_logical_id(comparison.prediction_drift_alarm.node.default_child)  # type: ignore[arg-type]
    alarm = template.find_resources("AWS::CloudWatch::Alarm")[alarm_id]["Properties"]
    (query,) = alarm["Metrics"]  # one contract metric, labelled: CloudWatch gets it as a metric query
    stat = query["MetricStat"]
    assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"], alarm["Threshold"]) == (
        "MLOps/ModelMonitoring",
        "ShadowPredictionDrift",
        "Maximum",
        0.2,
    )
    assert {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]} == {
        "Model": "breast-cancer",
        "Environment": "staging",
        "Endpoint": SHADOW_ENDPOINT,
    }
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"], alarm["EvaluationPeriods"]) == (
        "GreaterThanThreshold",
        "ignore",
        1,
    )
    assert len(alarm["AlarmActions"]) == 1 and alarm["OKActions"] == alarm["AlarmActions"]
    dashboard = json.dumps(template.find_resources("AWS::CloudWatch::Dashboard"))
    assert "Shadow vs production prediction drift (PSI)" in dashboard
    assert alarm_id in dashboard  # the alarm widget names the alarm (its ARN is a GetAtt of it)


# --- inference components ---


def test_shared_endpoint_holds_managed_instances_and_no_model(staging: Any) -> None:
    stack = staging.inference_components
    assert stack is not None
    template = part_template(stack)
    _, config = only(template, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert "ModelName" not in variant
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2}
    assert variant["InstanceType"] == "ml.m5.xlarge"
    assert "ExecutionRoleArn" in config
    _, endpoint = only(template, "AWS::SageMaker::Endpoint")
    assert endpoint["EndpointName"] == SHARED_ENDPOINT
    for name in ("triage-ic", "routing-ic"):
        assert stack in staging.models[name].dependencies


@pytest.mark.parametrize(
    ("model", "compute", "scaling", "from_zero"),
    [
        ("triage-ic", {"MinMemoryRequiredInMb": 1024, "NumberOfCpuCoresRequired": 1}, (1, 3), False),
        ("routing-ic", {"MinMemoryRequiredInMb": 512, "NumberOfCpuCoresRequired": 0.5}, (0, 2), True),
    ],
)
def test_each_component_reserves_compute_and_scales_its_copies(
    staging: Any, model: str, compute: dict[str, Any], scaling: tuple[int, int], from_zero: bool
) -> None:
    template = part_template(staging.serving[model])
    _, component = only(template, "AWS::SageMaker::InferenceComponent")
    assert component["EndpointName"] == SHARED_ENDPOINT
    assert component["VariantName"] == "AllTraffic"
    assert component["InferenceComponentName"] == f"mlops-staging-{model}"
    assert component["Specification"]["ComputeResourceRequirements"] == compute
    assert component["RuntimeConfig"] == {"CopyCount": 1}
    assert len(component["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]) == 2
    _, target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ResourceId"] == f"inference-component/mlops-staging-{model}"
    assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == scaling
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"
                    }
                }
            )
        },
    )
    no_capacity = [
        a
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "NoCapacityInvocationFailures"
    ]
    assert len(no_capacity) == (1 if from_zero else 0)
    if from_zero:
        props = no_capacity[0]["Properties"]
        assert props["Dimensions"] == [{"Name": "InferenceComponentName", "Value": f"mlops-staging-{model}"}]
        assert (props["Namespace"], props["Statistic"], props["Period"], props["EvaluationPeriods"]) == (
            "AWS/SageMaker",
            "Sum",
            60,
            1,
        )
        assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


def test_component_monitoring_reads_component_metrics_without_capture(staging: Any) -> None:
    monitoring = staging.monitoring["triage-ic"]
    assert monitoring.backend == "endpoint_only" and monitoring.drift_pipeline is None
    template = part_template(monitoring)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Invocation5XXErrors",
            "Dimensions": [{"Name": "InferenceComponentName", "Value": "mlops-staging-triage-ic"}],
        },
    )
