"""MonitoringStack: Model Monitor schedules, the open drift pipeline, endpoint-only monitoring, alarms, failure events
and dashboards.

The shipped configuration deploys in a brand-new account: no Model Monitor (AWS closed it to new customers), the open
backend where the endpoint captures data, endpoint-only monitoring on serverless dev. Model Monitor is tested on a
configuration of its own (prod with ``backend: model_monitor``, bias and explainability).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from mlops_config import ConfigError, PlatformConfig, parse_config
from mlops_constructs import naming
from pipeline_defs.steps import metric_contract as contract
from stacks.model_stack import MONITORING_ID
from tests.conftest import MODEL_MONITOR, build_app, raw_default_config
from tests.infra.stack_parts import logical_ids, part_template

MODEL = "breast-cancer"
PACKAGE = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3"
APPROVED = {env: {MODEL: PACKAGE} for env in ("dev", "staging", "prod")}
FEATURES = 30
# Endpoint names carry the endpoint's shape (naming.endpoint_shape): dev serverless, staging/prod ml.m5.large.
ENDPOINTS = {
    "dev": "mlops-dev-breast-cancer-serverless",
    "staging": "mlops-staging-breast-cancer-m5-large",
    "prod": "mlops-prod-breast-cancer-m5-large",
}


@pytest.fixture(scope="module")
def stages(approved_app: tuple[Any, dict[str, Any]]) -> dict[str, Any]:
    """The shipped configuration with the sample model served everywhere, synthesized once (cdk-nag runs).

    The session's ``approved_app`` is this very app (same package approved in every environment): not built twice.
    """
    assert approved_app[1]["prod"].serving[MODEL].package_arn == PACKAGE
    return approved_app[1]


@pytest.fixture(scope="module")
def templates(stages: dict[str, Any]) -> dict[str, Template]:
    """Each environment's monitoring template: dev (endpoint only, serverless), staging and prod (open)."""
    return {env: part_template(stage.monitoring[MODEL]) for env, stage in stages.items()}


@pytest.fixture(scope="module")
def mm_stage(model_monitor_stage: Any) -> Any:
    """prod with ``backend: model_monitor`` and all four kinds (tests/conftest.py: built once per session, also used
    by test_model_stack.py), synthesized (cdk-nag runs)."""
    return model_monitor_stage


@pytest.fixture(scope="module")
def mm(mm_stage: Any) -> Template:
    """prod's monitoring template with Model Monitor."""
    return part_template(mm_stage.monitoring[MODEL])


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    """Logical ID -> properties of every ``kind`` resource."""
    return {key: value.get("Properties", {}) for key, value in template.find_resources(kind).items()}


def topic_output(env: str) -> dict[str, Any]:
    """How an alarm or rule in ``env`` refers to the DataStack's topic."""
    return {"Fn::GetStackOutput": Match.object_like({"StackName": f"mlops-{env}-data"})}


# --- The shipped configuration: deploys in a new account ------------------------------------------------------


def test_the_shipped_configuration_uses_no_model_monitor(default_config: PlatformConfig) -> None:
    backends = {env: default_config.models[0].in_environment(env).monitoring.backend for env in APPROVED}
    assert backends == {"dev": "endpoint_only", "staging": "open", "prod": "open"}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_model_monitor_or_clarify_resource_is_synthesized(templates: dict[str, Template], env: str) -> None:
    types = {resource["Type"] for resource in templates[env].to_json()["Resources"].values()}
    assert not {t for t in types if t.startswith("AWS::SageMaker::") and ("Monitoring" in t or "JobDefinition" in t)}


# --- Model Monitor (prod, own configuration) ------------------------------------------------------------------

JOB_TYPES = {
    "AWS::SageMaker::DataQualityJobDefinition": ("DataQuality", "data", True),
    "AWS::SageMaker::ModelQualityJobDefinition": ("ModelQuality", "quality", True),
    "AWS::SageMaker::ModelBiasJobDefinition": ("ModelBias", "bias", True),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": ("ModelExplainability", "explain", False),
}


@pytest.mark.parametrize("kind", sorted(JOB_TYPES))
def test_model_monitor_job_definitions_are_encrypted_isolated_and_publish_metrics(mm: Template, kind: str) -> None:
    prefix, suffix, isolated = JOB_TYPES[kind]
    found = resources(mm, kind)
    assert len(found) == 1
    props = next(iter(found.values()))
    # Every property is create-only: a changed baseline replaces the definition, which a fixed name would forbid.
    assert "JobDefinitionName" not in props
    short = prefix
    app_spec = props[f"{short}AppSpecification"]
    assert app_spec["Environment"] == {"publish_cloudwatch_metrics": "Enabled"}
    clarify = short in ("ModelBias", "ModelExplainability")
    image = "sagemaker-clarify-processing:1.0" if clarify else "sagemaker-model-monitor-analyzer"
    assert image in app_spec["ImageUri"]
    assert app_spec["ImageUri"].split(".")[3] == "eu-west-1"
    output = props[f"{short}JobOutputConfig"]
    assert output["KmsKeyId"] == props["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"]
    assert "Fn::GetStackOutput" in output["KmsKeyId"]
    assert output["MonitoringOutputs"][0]["S3Output"]["S3Uri"].endswith(
        f"/{MODEL}/model-monitor/"
        + {"data": "data-quality", "quality": "model-quality", "bias": "bias", "explain": "explainability"}[suffix]
    )
    assert props["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": True,
        "EnableNetworkIsolation": isolated,
    }
    endpoint_input = props[f"{short}JobInput"]["EndpointInput"]
    assert endpoint_input["EndpointName"] == ENDPOINTS["prod"]


# MonitoringStoppingCondition: hourly model quality and bias may run at most 1800 s, the others 3600 s.
RUNTIME_AND_OFFSETS = {
    "AWS::SageMaker::DataQualityJobDefinition": (3600, None),
    "AWS::SageMaker::ModelQualityJobDefinition": (1800, ("-P2D", "-P1D")),
    "AWS::SageMaker::ModelBiasJobDefinition": (1800, ("-P2D", "-P1D")),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": (3600, None),
}


@pytest.mark.parametrize("kind", sorted(RUNTIME_AND_OFFSETS))
def test_hourly_jobs_fit_their_runtime_limit_and_ground_truth_waits_for_labels(mm: Template, kind: str) -> None:
    runtime, offsets = RUNTIME_AND_OFFSETS[kind]
    (props,) = resources(mm, kind).values()
    assert props["StoppingCondition"] == {"MaxRuntimeInSeconds": runtime}
    short = JOB_TYPES[kind][0]
    endpoint_input = props[f"{short}JobInput"]["EndpointInput"]
    found = (endpoint_input.get("StartTimeOffset"), endpoint_input.get("EndTimeOffset"))
    assert found == (offsets or (None, None))


def test_ground_truth_offsets_follow_the_configuration(tmp_path_factory: pytest.TempPathFactory) -> None:
    config = _config_with(
        {"prod": {**MODEL_MONITOR, "start_time_offset": "-PT30H", "end_time_offset": "-PT6H", "explainability": False}}
    )
    _, built = build_app(config, approved=APPROVED, environments=["prod"])
    template = part_template(built["prod"].monitoring[MODEL])
    for kind in ("AWS::SageMaker::ModelQualityJobDefinition", "AWS::SageMaker::ModelBiasJobDefinition"):
        (props,) = resources(template, kind).values()
        endpoint_input = props[f"{JOB_TYPES[kind][0]}JobInput"]["EndpointInput"]
        assert (endpoint_input["StartTimeOffset"], endpoint_input["EndTimeOffset"]) == ("-PT30H", "-PT6H")


def test_a_runtime_above_the_hourly_limit_is_refused() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3

    from mlops_constructs.model_monitor import ModelMonitorSchedules, MonitorBaselines

    stack = cdk.Stack(cdk.App(), "Test", env=cdk.Environment(account="333333333333", region="eu-west-1"))
    bucket = s3.Bucket(stack, "Bucket")
    with pytest.raises(ValueError, match=r"max_runtime_seconds 3600 exceeds what model-quality may run.*1800"):
        ModelMonitorSchedules(
            stack,
            "Monitor",
            endpoint_name="endpoint",
            schedule_expression="cron(0 * ? * * *)",
            baselines=MonitorBaselines(model_quality_constraints_uri="s3://b/c.json"),
            capture_bucket=bucket,
            baseline_bucket=bucket,
            output_bucket=bucket,
            output_prefix="m/",
            key=kms.Key(stack, "Key"),
            ground_truth_uri="s3://b/gt/",
            kinds=["model-quality"],
            max_runtime_seconds=3600,
        )


def test_model_monitor_baselines_come_from_the_promoted_baseline_prefix(mm: Template) -> None:
    data = next(iter(resources(mm, "AWS::SageMaker::DataQualityJobDefinition").values()))
    bucket = "s3://mlops-prod-models-333333333333-eu-west-1"
    assert data["DataQualityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": f"{bucket}/promoted/{MODEL}/v3/baselines/data-quality/constraints.json"},
        "StatisticsResource": {"S3Uri": f"{bucket}/promoted/{MODEL}/v3/baselines/data-quality/statistics.json"},
    }
    quality = next(iter(resources(mm, "AWS::SageMaker::ModelQualityJobDefinition").values()))
    assert quality["ModelQualityJobInput"]["GroundTruthS3Input"] == {
        "S3Uri": f"s3://mlops-prod-capture-333333333333-eu-west-1/{MODEL}/ground-truth/"
    }
    assert quality["ModelQualityJobInput"]["EndpointInput"]["ProbabilityAttribute"] == "0"
    assert quality["ModelQualityAppSpecification"]["ProblemType"] == "BinaryClassification"


def test_one_schedule_per_kind_on_the_configured_cron(mm: Template) -> None:
    schedules = resources(mm, "AWS::SageMaker::MonitoringSchedule")
    definitions = {JOB_TYPES[kind][0]: logical_id for kind in JOB_TYPES for logical_id in mm.find_resources(kind)}
    found = {
        props["MonitoringScheduleConfig"]["MonitoringType"]: (
            props["MonitoringScheduleName"],
            props["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"],
            props["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"],
            props["EndpointName"],
        )
        for props in schedules.values()
    }
    assert found == {
        prefix: (
            f"{ENDPOINTS['prod']}-{suffix}",
            # The definition's generated name: the last part of its ARN.
            {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": definitions[prefix]}]}]},
            "cron(0 * ? * * *)",
            ENDPOINTS["prod"],
        )
        for prefix, suffix, _ in JOB_TYPES.values()
    }


# --- Explainability follows the served model ------------------------------------------------------------------


def test_explainability_reads_a_config_written_for_the_model_the_endpoint_serves(mm: Template, mm_stage: Any) -> None:
    ((writer_id, writer),) = mm.find_resources("Custom::ClarifyAnalysisConfig").items()
    props = writer["Properties"]
    # The served Model's generated name, read at deploy time: every approval replaces the Model and rewrites this.
    model_id = next(iter(part_template(mm_stage.serving[MODEL]).find_resources("AWS::SageMaker::Model")))
    # Serving and monitoring are one stack: a reference within it, no export for the serving side to keep.
    assert props["ModelName"] == {"Fn::GetAtt": [model_id, "ModelName"]}
    assert (props["SourceBucket"], props["SourceKey"]) == (
        "mlops-prod-models-333333333333-eu-west-1",
        # The promoted copy of the package's explainability config, in prod's own bucket.
        f"promoted/{MODEL}/v3/baselines/explainability/analysis_config.json",
    )
    target = f"s3://{props['TargetBucket']}/{props['TargetKey']}"
    assert (
        target == f"s3://mlops-prod-reports-333333333333-eu-west-1/{MODEL}/clarify/explainability/analysis_config.json"
    )
    ((_, job),) = mm.find_resources("AWS::SageMaker::ModelExplainabilityJobDefinition").items()
    # A stable URI: a promotion changes the object, not the job definition.
    assert job["Properties"]["ModelExplainabilityAppSpecification"]["ConfigUri"] == target
    assert writer_id in job["DependsOn"]


def _sub_variable_maps(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::Sub" and isinstance(value, list) and len(value) == 2:
                yield value[1]
            yield from _sub_variable_maps(value)
    elif isinstance(node, list):
        for item in node:
            yield from _sub_variable_maps(item)


def test_no_cross_stack_reference_sits_in_an_fn_sub_variable_map(templates: dict[str, Template], mm: Template) -> None:
    # Fn::GetStackOutput reference page, "Known limitations": inside an Fn::Sub variable map it fails the deploy.
    # (The open backend's pipeline definition is the training helper's fix, issue 11 item 2.1; checked there.)
    for template in (templates["dev"], mm):
        for variables in _sub_variable_maps(template.to_json()):
            assert "Fn::GetStackOutput" not in json.dumps(variables)


def _role_statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    """Statements of the monitoring's role whose construct path starts with ``role_prefix``."""
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if any(role["Ref"].startswith(MONITORING_ID + role_prefix) for role in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_clarify_may_manage_only_its_shadow_endpoint_and_look_at_the_served_one(mm: Template, mm_stage: Any) -> None:
    # Clarify's statements belong to the explainability job's own role (issue 13): the isolated jobs have none.
    isolated = json.dumps(_role_statements(mm, "ModelMonitorRole"))
    assert "Clarify" not in isolated and "sagemaker:InvokeEndpoint" not in isolated
    statements = {s.get("Sid"): s for s in _role_statements(mm, "ModelMonitorExplainabilityRole") if "Sid" in s}
    shadow = statements["ClarifyShadowEndpoint"]
    assert sorted(shadow["Resource"]) == [
        "arn:aws:sagemaker:eu-west-1:333333333333:endpoint-config/sm-clarify-*",
        "arn:aws:sagemaker:eu-west-1:333333333333:endpoint/sm-clarify-*",
    ]
    served = statements["ClarifyServedEndpoint"]
    assert served["Action"] == ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]
    assert served["Resource"] == f"arn:aws:sagemaker:eu-west-1:333333333333:endpoint/{ENDPOINTS['prod']}"
    model = statements["ClarifyServedModel"]
    assert model["Action"] == "sagemaker:DescribeModel"
    model_id = next(iter(part_template(mm_stage.serving[MODEL]).find_resources("AWS::SageMaker::Model")))
    assert model["Resource"] == {"Fn::GetAtt": [model_id, "ModelArn"]}
    # Nothing else of SageMaker's endpoints, configs or models, and no wildcard over them.
    others = [s for s in statements.values() if s not in (shadow, served, model)]
    assert not [s for s in others if "sagemaker:" in json.dumps(s["Action"]) and "Endpoint" in json.dumps(s)]


def test_the_config_writer_reads_the_source_and_writes_only_the_target(mm: Template) -> None:
    statements = _role_statements(mm, "ExplainabilityConfigRole")
    s3_resources = sorted(
        json.dumps(s["Resource"])
        for s in statements
        if any(a.startswith("s3:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    )
    assert s3_resources == sorted(
        [
            json.dumps(
                [
                    "arn:aws:s3:::mlops-prod-models-333333333333-eu-west-1",
                    f"arn:aws:s3:::mlops-prod-models-333333333333-eu-west-1/promoted/{MODEL}/v3/baselines/"
                    "explainability/analysis_config.json",
                ]
            ),
            json.dumps(
                f"arn:aws:s3:::mlops-prod-reports-333333333333-eu-west-1/{MODEL}/clarify/explainability/"
                "analysis_config.json"
            ),
        ]
    )


def test_model_monitor_reports_reach_the_contract_through_the_bridge(mm: Template) -> None:
    template = mm
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["arm64"],
            "Layers": [Match.string_like_regexp(r":017000801446:layer:AWSLambdaPowertoolsPythonV3-.*-arm64:\d+$")],
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "ENDPOINT_NAME": ENDPOINTS["prod"],
                        "REPORT_PREFIX": f"{MODEL}/model-monitor/",
                        "FEATURES": Match.string_like_regexp(r'^\["mean_radius", "mean_texture", '),
                    }
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": ["mlops-prod-reports-333333333333-eu-west-1"]},
                    "object": {"key": [{"prefix": f"{MODEL}/model-monitor/"}]},
                },
            }
        },
    )
    _assert_put_metric_data_limited_to_the_contract(template)


def _assert_put_metric_data_limited_to_the_contract(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "cloudwatch:PutMetricData",
                            "Condition": {"StringEquals": {"cloudwatch:namespace": contract.NAMESPACE}},
                            "Effect": "Allow",
                            "Resource": "*",
                        }
                    ]
                )
            }
        },
    )


# --- Open backend (staging, prod) ------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_open_backend_is_a_scheduled_monitoring_pipeline(templates: dict[str, Template], env: str) -> None:
    template = templates[env]
    assert template.find_resources("AWS::SageMaker::MonitoringSchedule") == {}
    pipelines = resources(template, "AWS::SageMaker::Pipeline")
    assert [props["PipelineName"] for props in pipelines.values()] == [
        naming.pipeline_name("mlops", env, MODEL, "monitoring")
    ]
    body = json.dumps(next(iter(pipelines.values()))["PipelineDefinition"])
    for name in ("AnalyseDrift", "PublishMetrics", "${CaptureBucket}", "${MonitoringBucket}", "${DriftScriptKey}"):
        assert name in body
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "cron(0 * ? * * *)",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": Match.object_like(
                {
                    "Arn": Match.string_like_regexp(f"pipeline/mlops-{env}-{MODEL}-monitoring$"),
                    "SageMakerPipelineParameters": {"PipelineParameterList": []},
                }
            ),
        },
    )
    _assert_put_metric_data_limited_to_the_contract(template)


def test_open_pipeline_substitutes_every_placeholder(templates: dict[str, Template]) -> None:
    pipeline = next(iter(resources(templates["staging"], "AWS::SageMaker::Pipeline").values()))
    body, variables = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    assert set(variables) == {
        "ExecutionRoleName",
        "ArtifactBucket",
        "KmsKeyArn",
        "CaptureBucket",
        "MonitoringBucket",
        "DriftScriptBucket",
        "DriftScriptKey",
        "ContractScriptBucket",
        "ContractScriptKey",
        "PublishRoleName",
    }
    assert "${!" not in body


# --- Alarms ---------------------------------------------------------------------------------------------------

ENDPOINT_ALARMS = {
    # construct id prefix: (metric, statistic, threshold, comparison)
    "Endpoint5xxErrors": ("Invocation5XXErrors", "Sum", 5, "GreaterThanOrEqualToThreshold"),
    "EndpointModelLatencyP99": ("ModelLatency", "p99", 1_000_000, "GreaterThanThreshold"),
    "EndpointModelSetupTime": ("ModelSetupTime", "Maximum", 10_000_000, "GreaterThanThreshold"),
}


def alarms_by_id(template: Template) -> dict[str, dict[str, Any]]:
    """Alarm properties keyed by the alarm's construct id (logical id without its hash)."""
    return {
        key[len(MONITORING_ID + "Alarms") : -8]: props
        for key, props in resources(template, "AWS::CloudWatch::Alarm").items()
        if key.startswith(MONITORING_ID + "Alarms")  # ModelAlarms; dead-letter alarms are tested with their queues
    }


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_endpoint_alarms_watch_the_endpoint_and_notify_the_topic(templates: dict[str, Template], env: str) -> None:
    alarms = alarms_by_id(templates[env])
    expected = set(ENDPOINT_ALARMS) | {"EndpointInvocationErrorRate", "FeatureDrift", "ModelQuality"}
    if env == "dev":
        expected -= {"FeatureDrift", "ModelQuality"}  # endpoint-only monitoring: no drift or quality published
    else:
        expected.discard("EndpointModelSetupTime")  # real-time endpoints have no cold start
    assert set(alarms) == expected
    for alarm_id, props in alarms.items():
        assert props["AlarmActions"][0]["Fn::GetStackOutput"]["StackName"] == f"mlops-{env}-data"
        assert props["OKActions"] == props["AlarmActions"]
        if alarm_id in ENDPOINT_ALARMS:
            metric, statistic, threshold, comparison = ENDPOINT_ALARMS[alarm_id]
            assert props["Namespace"] == "AWS/SageMaker"
            assert props["MetricName"] == metric
            assert props.get("Statistic", props.get("ExtendedStatistic")) == statistic
            assert props["Dimensions"] == [
                {"Name": "EndpointName", "Value": ENDPOINTS[env]},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ]
            assert (props["Threshold"], props["ComparisonOperator"]) == (threshold, comparison)
            assert props["TreatMissingData"] == "notBreaching"
            assert (props["Period"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (300, 3, 2)


def test_error_rate_alarm_divides_errors_by_invocations(templates: dict[str, Template]) -> None:
    props = alarms_by_id(templates["prod"])["EndpointInvocationErrorRate"]
    expression = next(m for m in props["Metrics"] if "Expression" in m)
    assert expression["Expression"] == "100 * (e4 + e5) / MAX([inv, 1])"
    names = {m["Id"]: m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m}
    assert names == {"e4": "Invocation4XXErrors", "e5": "Invocation5XXErrors", "inv": "Invocations"}
    assert (props["Threshold"], props["TreatMissingData"]) == (5, "notBreaching")


def contract_alarm(template: Template, alarm_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A contract alarm's properties and its one metric stat."""
    props = alarms_by_id(template)[alarm_id]
    (metric,) = props["Metrics"]
    return props, metric["MetricStat"]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_drift_and_quality_alarms_are_named_and_read_the_contract(templates: dict[str, Template], env: str) -> None:
    dimensions = [
        {"Name": "Endpoint", "Value": ENDPOINTS[env]},
        {"Name": "Environment", "Value": env},
        {"Name": "Model", "Value": MODEL},
    ]
    drift, drift_stat = contract_alarm(templates[env], "FeatureDrift")
    assert drift["AlarmName"] == naming.alarm_name("mlops", env, MODEL, "feature-drift")
    assert drift_stat == {
        "Metric": {"Dimensions": dimensions, "MetricName": "DriftedFeatures", "Namespace": contract.NAMESPACE},
        "Period": 3600,
        "Stat": "Maximum",
    }
    assert (drift["Threshold"], drift["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert drift["TreatMissingData"] == "ignore"
    quality, quality_stat = contract_alarm(templates[env], "ModelQuality")
    assert quality["AlarmName"] == naming.alarm_name("mlops", env, MODEL, "model-quality")
    assert quality_stat["Metric"]["MetricName"] == "ModelAUC"
    assert quality_stat["Stat"] == "Minimum"
    assert (quality["Threshold"], quality["ComparisonOperator"]) == (0.85, "LessThanThreshold")
    assert quality["TreatMissingData"] == "ignore"


def test_drift_alarm_names_are_exposed_for_the_retraining_lambda(stages: dict[str, Any]) -> None:
    monitoring = stages["prod"].monitoring[MODEL]
    assert monitoring.drift_alarm_names == (
        "mlops-prod-breast-cancer-feature-drift",
        "mlops-prod-breast-cancer-model-quality",
    )
    assert len(monitoring.drift_alarms) == 2


# --- Failure events -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_failed_pipeline_executions_of_the_model_notify_the_topic(templates: dict[str, Template], env: str) -> None:
    arns = [
        f"arn:aws:sagemaker:eu-west-1:{ {'dev': '111111111111', 'prod': '333333333333'}[env] }:pipeline/"
        f"mlops-{env}-{MODEL}-{kind}"
        for kind in ("training", "batch", "monitoring")
    ]
    templates[env].has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Building Pipeline Execution Status Change"],
                "detail": {"currentPipelineExecutionStatus": ["Failed"], "pipelineArn": arns},
            },
            "Targets": [Match.object_like({"Arn": topic_output(env)})],
        },
    )


def test_failed_model_monitor_jobs_notify_the_topic(mm: Template) -> None:
    mm.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Processing Job State Change"],
                "detail": {
                    "ProcessingJobStatus": ["Failed"],
                    "MonitoringScheduleArn": [
                        f"arn:aws:sagemaker:eu-west-1:333333333333:monitoring-schedule/{ENDPOINTS['prod']}-{suffix}"
                        for suffix in ("data", "quality", "bias", "explain")
                    ],
                },
            },
            "Targets": [Match.object_like({"Arn": topic_output("prod")})],
        },
    )


# --- Dashboard ------------------------------------------------------------------------------------------------


def dashboard_body(template: Template) -> dict[str, Any]:
    """The dashboard's JSON body with CloudFormation references replaced by a marker."""
    (props,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = props["DashboardBody"]
    text = body if isinstance(body, str) else "".join(p if isinstance(p, str) else "REF" for p in body["Fn::Join"][1])
    return dict(json.loads(text))


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_one_dashboard_per_model_with_every_widget(templates: dict[str, Template], env: str) -> None:
    (props,) = resources(templates[env], "AWS::CloudWatch::Dashboard").values()
    assert props["DashboardName"] == f"mlops-{env}-{MODEL}-monitoring"
    body = dashboard_body(templates[env])
    titles = [widget["properties"].get("title") for widget in body["widgets"]]
    for title in ("Invocations", "Errors", "Model latency p99 (us)", "Pipeline executions"):
        assert title in titles
    assert ("Serverless model setup time (us)" in titles) == (env == "dev")
    monitoring = ["Drifted features", "Model AUC on labelled traffic", "Accuracy and F1", "Captured records analysed"]
    if env == "dev":  # endpoint-only: nothing publishes drift or quality
        assert not set(monitoring) & set(titles)
        assert "Drift score per feature" not in titles
        return
    for title in monitoring:
        assert title in titles
    (per_feature,) = [w for w in body["widgets"] if w["properties"].get("title") == "Drift score per feature"]
    ((expression,),) = per_feature["properties"]["metrics"]
    search = (
        '{MLOps/ModelMonitoring,Model,Environment,Endpoint,Feature} MetricName="FeatureDriftScore" '
        f'Model="{MODEL}" Environment="{env}" Endpoint="{ENDPOINTS[env]}"'
    )
    assert expression["expression"] == f"SEARCH('{search}', 'Maximum', 3600)"
    assert expression["label"] == "${PROP('Dim.Feature')}"
    text = json.dumps(body)
    assert "111111111111" not in text and "333333333333" not in text and "eu-west-1" not in text
    for kind in ("training", "batch", "monitoring"):
        assert f"mlops-{env}-{MODEL}-{kind}" in text


# --- Backends and wiring --------------------------------------------------------------------------------------


def _config_with(change: dict[str, dict[str, Any]]) -> PlatformConfig:
    raw = raw_default_config()
    for env, monitoring in change.items():
        raw["models"][0]["environments"][env]["monitoring"] = monitoring
    return parse_config(raw, source=Path("config/platform.yaml"))


def _alarm_metrics(template: Template) -> dict[str, Any]:
    keep = (
        "MetricName",
        "Namespace",
        "Dimensions",
        "Statistic",
        "ExtendedStatistic",
        "Metrics",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "Period",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "AlarmName",
    )
    return {alarm_id: {key: props.get(key) for key in keep} for alarm_id, props in alarms_by_id(template).items()}


def test_switching_the_backend_changes_resources_but_not_alarm_metrics(
    templates: dict[str, Template], mm: Template
) -> None:
    shipped = templates["prod"]
    assert shipped.find_resources("AWS::SageMaker::MonitoringSchedule") == {}
    assert len(shipped.find_resources("AWS::SageMaker::Pipeline")) == 1
    assert len(mm.find_resources("AWS::SageMaker::MonitoringSchedule")) == 4
    assert mm.find_resources("AWS::SageMaker::Pipeline") == {}
    assert _alarm_metrics(mm) == _alarm_metrics(shipped)
    assert json.dumps(dashboard_body(mm)) == json.dumps(dashboard_body(shipped))


@pytest.mark.parametrize("backend", ["open", "model_monitor"])
def test_a_capture_backend_on_a_serverless_endpoint_is_a_configuration_error(backend: str) -> None:
    with pytest.raises(ConfigError) as error:
        _config_with({"dev": {"backend": backend}})
    assert (
        f"config/platform.yaml: models[0].environments.dev.monitoring: backend: {backend!r} reads endpoint data "
        "capture, which serverless endpoints don't have (serving.mode is 'serverless'); allowed: 'endpoint_only'"
    ) in str(error.value)


def test_serverless_defaults_to_endpoint_only_and_realtime_to_open() -> None:
    raw = raw_default_config()
    for env in ("dev", "staging"):
        raw["models"][0]["environments"][env].pop("monitoring")
    raw["models"][0]["environments"].pop("prod")  # an environment left out gets the defaults (serverless)
    model = parse_config(raw, source=Path("config/platform.yaml")).models[0]
    assert model.in_environment("dev").monitoring.backend == "endpoint_only"
    assert model.in_environment("staging").monitoring.backend == "open"
    assert model.in_environment("prod").monitoring.backend == "endpoint_only"


def test_endpoint_only_keeps_the_endpoint_alarms_and_dashboard(
    templates: dict[str, Template], stages: dict[str, Any]
) -> None:
    assert stages["dev"].monitoring[MODEL].drift_alarm_names == ()
    dev = templates["dev"]
    assert dev.find_resources("AWS::SageMaker::Pipeline") == {}
    assert dev.find_resources("AWS::Scheduler::Schedule") == {}
    assert dev.find_resources("AWS::Lambda::Function") == {}
    alarms = alarms_by_id(dev)
    assert set(alarms) == {
        "Endpoint5xxErrors",
        "EndpointInvocationErrorRate",
        "EndpointModelLatencyP99",
        "EndpointModelSetupTime",
    }
    assert alarms["EndpointModelSetupTime"]["MetricName"] == "ModelSetupTime"
    assert len(resources(dev, "AWS::CloudWatch::Dashboard")) == 1


def test_no_monitoring_without_a_served_model_or_when_disabled() -> None:
    config = _config_with({"staging": {"enabled": False}})
    _, built = build_app(config, approved={"dev": {MODEL: PACKAGE}}, environments=["dev", "staging", "prod"])
    assert set(built["dev"].monitoring) == {MODEL}
    assert built["staging"].monitoring == {} and built["prod"].monitoring == {}


def test_monitoring_waits_for_the_promoted_baselines_and_the_endpoint(stages: dict[str, Any]) -> None:
    stack = stages["prod"].models[MODEL]
    serving, monitoring = stages["prod"].serving[MODEL], stages["prod"].monitoring[MODEL]
    promotion = stack.get_logical_id(serving.promotion.resource.node.default_child)
    endpoint = stack.get_logical_id(serving.endpoint.resource)
    resources = Template.from_stack(stack).to_json()["Resources"]
    own = logical_ids(monitoring)
    assert own and own <= set(resources)
    for logical_id in own & set(resources):
        assert {promotion, endpoint} <= set(resources[logical_id].get("DependsOn", [])), logical_id


def test_image_tables_match_the_sdk() -> None:
    import importlib.util

    from mlops_constructs.model_monitor import CLARIFY_REGISTRIES, MODEL_MONITOR_REGISTRIES

    spec = importlib.util.find_spec("sagemaker")
    assert spec is not None and spec.submodule_search_locations
    config_dir = Path(next(iter(spec.submodule_search_locations))) / "core" / "image_uri_config"
    monitor = json.loads((config_dir / "model-monitor.json").read_text())["versions"][""]
    clarify = json.loads((config_dir / "clarify.json").read_text())["processing"]["versions"]["1.0"]
    for table, sdk in ((MODEL_MONITOR_REGISTRIES, monitor), (CLARIFY_REGISTRIES, clarify)):
        commercial = {r: a for r, a in sdk["registries"].items() if not r.startswith(("cn-", "us-gov", "us-iso"))}
        assert table == commercial
    assert monitor["repository"] == "sagemaker-model-monitor-analyzer"
    assert clarify["repository"] == "sagemaker-clarify-processing"


def test_model_stack_templates_with_monitoring_are_cfn_lint_clean(stages: dict[str, Any], mm_stage: Any) -> None:
    from scripts.synth_report import lint

    templates = [Path(stage.outdir) / stage.models[MODEL].template_file for stage in stages.values()]
    templates.append(Path(mm_stage.outdir) / mm_stage.models[MODEL].template_file)
    assert all(path.exists() for path in templates)
    assert lint(templates) == []


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_rule_target_has_the_stacks_encrypted_dead_letter_queue(templates: dict[str, Template], env: str) -> None:
    """EventBridge drops an event whose target keeps failing unless the target has a dead-letter queue."""
    template = templates[env]
    queues = resources(template, "AWS::SQS::Queue")
    assert len(queues) == 1
    ((queue_id, queue),) = queues.items()
    assert queue["KmsMasterKeyId"]["Fn::GetStackOutput"]["StackName"] == f"mlops-{env}-data"
    assert "FifoQueue" not in queue  # EventBridge delivers dead letters to standard queues only
    rules = resources(template, "AWS::Events::Rule")
    assert rules
    for rule_id, rule in rules.items():
        for target in rule["Targets"]:
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}, rule_id
    # Each rule may send to the queue, and only from itself.
    (policy,) = resources(template, "AWS::SQS::QueuePolicy").values()
    senders = {
        statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement.get("Principal") == {"Service": "events.amazonaws.com"}
    }
    assert senders == set(rules)
    (dead_letter_alarm,) = (
        props
        for key, props in resources(template, "AWS::CloudWatch::Alarm").items()
        if key.startswith(MONITORING_ID + "EventDead")
    )
    assert dead_letter_alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert dead_letter_alarm["AlarmActions"][0]["Fn::GetStackOutput"]["StackName"] == f"mlops-{env}-data"


def test_a_report_the_bridge_rejects_ends_in_its_dead_letter_queue(mm: Template) -> None:
    """The rule target's DLQ only sees undelivered events; a raised ReportRejectedError needs the function's own."""
    (function_id,) = (
        logical_id
        for logical_id, function in resources(mm, "AWS::Lambda::Function").items()
        if "REPORT_PREFIX" in function.get("Environment", {}).get("Variables", {})
    )
    (config,) = (
        c for c in resources(mm, "AWS::Lambda::EventInvokeConfig").values() if c["FunctionName"] == {"Ref": function_id}
    )
    assert config["MaximumRetryAttempts"] == 2
    queue_arn = config["DestinationConfig"]["OnFailure"]["Destination"]
    (rule,) = (
        r
        for r in resources(mm, "AWS::Events::Rule").values()
        if r["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    )
    assert rule["Targets"][0]["DeadLetterConfig"] == {"Arn": queue_arn}
    assert queue_arn["Fn::GetAtt"][0] in resources(mm, "AWS::SQS::Queue")
