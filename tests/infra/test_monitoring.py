"""MonitoringStack: Model Monitor schedules, the open drift pipeline, alarms, failure events and dashboards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from mlops_config import PlatformConfig, parse_config
from mlops_constructs import naming
from pipeline_defs.steps import metric_contract as contract
from tests.conftest import build_app, raw_default_config

MODEL = "breast-cancer"
PACKAGE = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3"
APPROVED = {env: {MODEL: PACKAGE} for env in ("dev", "staging", "prod")}
FEATURES = 30


@pytest.fixture(scope="module")
def stages(default_config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The shipped configuration with the sample model served everywhere, synthesized once (cdk-nag runs)."""
    app, built = build_app(default_config, approved=APPROVED, outdir=tmp_path_factory.mktemp("cdk.out"))
    app.synth()
    return built


@pytest.fixture(scope="module")
def templates(stages: dict[str, Any]) -> dict[str, Template]:
    """Each environment's monitoring template: dev (open, serverless), staging (open), prod (Model Monitor)."""
    return {env: Template.from_stack(stage.monitoring[MODEL]) for env, stage in stages.items()}


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    """Logical ID -> properties of every ``kind`` resource."""
    return {key: value.get("Properties", {}) for key, value in template.find_resources(kind).items()}


def topic_output(env: str) -> dict[str, Any]:
    """How an alarm or rule in ``env`` refers to the DataStack's topic."""
    return {"Fn::GetStackOutput": Match.object_like({"StackName": f"mlops-{env}-data"})}


# --- Model Monitor (prod) --------------------------------------------------------------------------------------

JOB_TYPES = {
    "AWS::SageMaker::DataQualityJobDefinition": ("DataQuality", "data", True),
    "AWS::SageMaker::ModelQualityJobDefinition": ("ModelQuality", "quality", True),
    "AWS::SageMaker::ModelBiasJobDefinition": ("ModelBias", "bias", True),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": ("ModelExplainability", "explain", False),
}


@pytest.mark.parametrize("kind", sorted(JOB_TYPES))
def test_model_monitor_job_definitions_are_encrypted_isolated_and_publish_metrics(
    templates: dict[str, Template], kind: str
) -> None:
    prefix, suffix, isolated = JOB_TYPES[kind]
    found = resources(templates["prod"], kind)
    assert len(found) == 1
    props = next(iter(found.values()))
    assert props["JobDefinitionName"] == f"mlops-prod-{MODEL}-{suffix}"
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
    assert endpoint_input["EndpointName"] == f"mlops-prod-{MODEL}"


def test_model_monitor_baselines_come_from_the_promoted_baseline_prefix(templates: dict[str, Template]) -> None:
    data = next(iter(resources(templates["prod"], "AWS::SageMaker::DataQualityJobDefinition").values()))
    bucket = "s3://mlops-prod-models-333333333333-eu-west-1"
    assert data["DataQualityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": f"{bucket}/promoted/{MODEL}/v3/baselines/data-quality/constraints.json"},
        "StatisticsResource": {"S3Uri": f"{bucket}/promoted/{MODEL}/v3/baselines/data-quality/statistics.json"},
    }
    quality = next(iter(resources(templates["prod"], "AWS::SageMaker::ModelQualityJobDefinition").values()))
    assert quality["ModelQualityJobInput"]["GroundTruthS3Input"] == {
        "S3Uri": f"s3://mlops-prod-capture-333333333333-eu-west-1/{MODEL}/ground-truth/"
    }
    assert quality["ModelQualityJobInput"]["EndpointInput"]["ProbabilityAttribute"] == "0"
    assert quality["ModelQualityAppSpecification"]["ProblemType"] == "BinaryClassification"


def test_one_schedule_per_kind_on_the_configured_cron(templates: dict[str, Template]) -> None:
    schedules = resources(templates["prod"], "AWS::SageMaker::MonitoringSchedule")
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
            f"mlops-prod-{MODEL}-{suffix}",
            f"mlops-prod-{MODEL}-{suffix}",
            "cron(0 * ? * * *)",
            f"mlops-prod-{MODEL}",
        )
        for prefix, suffix, _ in JOB_TYPES.values()
    }


def test_model_monitor_reports_reach_the_contract_through_the_bridge(templates: dict[str, Template]) -> None:
    template = templates["prod"]
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["arm64"],
            "Layers": [Match.string_like_regexp(r":017000801446:layer:AWSLambdaPowertoolsPythonV3-.*-arm64:\d+$")],
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "ENDPOINT_NAME": f"mlops-prod-{MODEL}",
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
                    "object": {
                        "key": [
                            {"wildcard": f"{MODEL}/model-monitor/*/constraint_violations.json"},
                            {"wildcard": f"{MODEL}/model-monitor/*/statistics.json"},
                        ]
                    },
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


# --- Open backend (dev, staging) -------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "staging"])
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
    pipeline = next(iter(resources(templates["dev"], "AWS::SageMaker::Pipeline").values()))
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
    return {key[len("Alarms") : -8]: props for key, props in resources(template, "AWS::CloudWatch::Alarm").items()}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_endpoint_alarms_watch_the_endpoint_and_notify_the_topic(templates: dict[str, Template], env: str) -> None:
    alarms = alarms_by_id(templates[env])
    expected = set(ENDPOINT_ALARMS) | {"EndpointInvocationErrorRate", "FeatureDrift", "ModelQuality"}
    if env != "dev":
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
                {"Name": "EndpointName", "Value": f"mlops-{env}-{MODEL}"},
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


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_drift_and_quality_alarms_are_named_and_read_the_contract(templates: dict[str, Template], env: str) -> None:
    dimensions = [
        {"Name": "Endpoint", "Value": f"mlops-{env}-{MODEL}"},
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


def test_failed_model_monitor_jobs_notify_the_topic(templates: dict[str, Template]) -> None:
    templates["prod"].has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Processing Job State Change"],
                "detail": {
                    "ProcessingJobStatus": ["Failed"],
                    "MonitoringScheduleArn": [
                        f"arn:aws:sagemaker:eu-west-1:333333333333:monitoring-schedule/mlops-prod-{MODEL}-{suffix}"
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
    for title in (
        "Invocations",
        "Errors",
        "Model latency p99 (us)",
        "Drifted features",
        "Model AUC on labelled traffic",
        "Accuracy and F1",
        "Pipeline executions",
        "Captured records analysed",
    ):
        assert title in titles
    assert ("Serverless model setup time (us)" in titles) == (env == "dev")
    (per_feature,) = [w for w in body["widgets"] if w["properties"].get("title") == "Drift score per feature"]
    ((expression,),) = per_feature["properties"]["metrics"]
    search = (
        '{MLOps/ModelMonitoring,Model,Environment,Endpoint,Feature} MetricName="FeatureDriftScore" '
        f'Model="{MODEL}" Environment="{env}" Endpoint="mlops-{env}-{MODEL}"'
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


def test_switching_the_backend_changes_resources_but_not_alarm_metrics(templates: dict[str, Template]) -> None:
    config = _config_with({"prod": {"backend": "open"}})
    _, built = build_app(config, approved=APPROVED, environments=["prod"])
    switched = Template.from_stack(built["prod"].monitoring[MODEL])
    assert switched.find_resources("AWS::SageMaker::MonitoringSchedule") == {}
    assert len(switched.find_resources("AWS::SageMaker::Pipeline")) == 1
    assert len(templates["prod"].find_resources("AWS::SageMaker::MonitoringSchedule")) == 4
    assert templates["prod"].find_resources("AWS::SageMaker::Pipeline") == {}
    assert _alarm_metrics(switched) == _alarm_metrics(templates["prod"])
    assert json.dumps(dashboard_body(switched)) == json.dumps(dashboard_body(templates["prod"]))


def test_model_monitor_on_a_serverless_endpoint_is_refused() -> None:
    config = _config_with({"dev": {"backend": "model_monitor"}})
    with pytest.raises(ValueError, match="needs a real-time endpoint"):
        build_app(config, approved=APPROVED, environments=["dev"])


def test_no_monitoring_without_a_served_model_or_when_disabled() -> None:
    config = _config_with({"staging": {"enabled": False}})
    _, built = build_app(config, approved={"dev": {MODEL: PACKAGE}}, environments=["dev", "staging", "prod"])
    assert set(built["dev"].monitoring) == {MODEL}
    assert built["staging"].monitoring == {} and built["prod"].monitoring == {}


def test_monitoring_depends_on_the_serving_stack(stages: dict[str, Any]) -> None:
    monitoring = stages["prod"].monitoring[MODEL]
    assert stages["prod"].serving[MODEL] in monitoring.dependencies


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


def test_monitoring_templates_are_cfn_lint_clean(stages: dict[str, Any]) -> None:
    from scripts.synth_report import lint

    templates = [Path(stage.outdir) / stage.monitoring[MODEL].template_file for stage in stages.values()]
    assert all(path.exists() for path in templates)
    assert lint(templates) == []
