"""A regression model in the team's own ECR image, served and monitored: the whole app synthesized once for it.

staging runs the open drift backend, prod Model Monitor (for accounts that still have it). The image is pinned by
digest (production refuses a tag). What must hold: every role pulls exactly the configured repository and no other
image; promotion accepts exactly that digest; the drift monitor, the Model Monitor job, the alarms and the
dashboard speak regression.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from mlops_config import AlarmSettings, parse_config
from mlops_config.model_kind import QualityGate
from mlops_config.monitoring import quality_alarm
from mlops_constructs.alarms import ModelAlarms, contract_alarm_specs
from mlops_constructs.dashboard import ModelDashboard
from mlops_constructs.metric_contract import ModelMetrics
from pipeline_defs.steps import metric_contract as contract
from tests.conftest import build_app, raw_default_config
from tests.infra.stack_parts import part_json, part_template
from tests.security.iam_walker import statements

MODEL = "breast-cancer"
PACKAGE = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3"
REPOSITORY = "team/diabetes-regressor"
IMAGE = f"555555555555.dkr.ecr.eu-west-1.amazonaws.com/{REPOSITORY}@sha256:{'c' * 64}"
REPOSITORY_ARN = f"arn:aws:ecr:eu-west-1:555555555555:repository/{REPOSITORY}"
GATE = {"metric": "rmse", "threshold": 60}


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """staging (open backend) and prod (Model Monitor) of a regression model served from a user image."""
    raw = copy.deepcopy(raw_default_config())
    model = raw["models"][0]
    model["problem_type"] = "regression"
    model["training"] = {"quality_gate": GATE}
    model["images"] = {"serving": {"uri": IMAGE}}
    model["environments"]["prod"]["monitoring"] = {"backend": "model_monitor"}
    config = parse_config(raw, source=Path("config/platform.yaml"))
    app, built = build_app(
        config,
        approved={env: {MODEL: PACKAGE} for env in ("staging", "prod")},
        environments=["staging", "prod"],
        outdir=tmp_path_factory.mktemp("cdk.out.any-model"),
    )
    app.synth()
    return built


def _json(stack: Any) -> dict[str, Any]:
    return part_json(stack)


def _ecr_pulls(template: dict[str, Any]) -> list[str]:
    return sorted(
        str(resource)
        for statement in statements(template)
        if statement.body.get("Effect") == "Allow" and "ecr:BatchGetImage" in statement.listed("Action")
        for resource in statement.listed("Resource")
    )


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_serving_roles_pull_exactly_the_configured_repository(stages: dict[str, Any], env: str) -> None:
    template = _json(stages[env].serving[MODEL])
    pulls = _ecr_pulls(template)
    # The model's role, and in prod the batch pipeline's role too: the user repository, nothing else.
    assert pulls == [REPOSITORY_ARN] * (2 if env == "prod" else 1)
    granted = [
        statement.listed("Action")
        for statement in statements(template)
        if any(str(r) == REPOSITORY_ARN for r in statement.listed("Resource"))
    ]
    assert all(sorted(actions) == sorted(contract_actions()) for actions in granted)


def contract_actions() -> tuple[str, ...]:
    """What a role may do on the repository it pulls (mlops_constructs.sagemaker_iam.ECR_PULL_ACTIONS)."""
    return ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def test_promotion_accepts_exactly_the_configured_digest(stages: dict[str, Any]) -> None:
    copies = [
        resource["Properties"]
        for resource in _json(stages["prod"].serving[MODEL])["Resources"].values()
        if resource["Type"] == "Custom::ModelPromotion"
    ]
    assert len(copies) == 1
    assert copies[0]["Images"] == [IMAGE]
    assert "ImagePrefixes" not in copies[0]


def test_the_open_drift_monitor_computes_regression_quality(stages: dict[str, Any]) -> None:
    pipelines = [
        json.dumps(resource["Properties"]["PipelineDefinition"])
        for resource in _json(stages["staging"].monitoring[MODEL])["Resources"].values()
        if resource["Type"] == "AWS::SageMaker::Pipeline"
    ]
    assert len(pipelines) == 1
    arguments = re.search(r'--problem-type[\\"]*,\s*[\\"]*(\w+)', pipelines[0])
    assert arguments is not None and arguments.group(1) == "regression"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_quality_alarm_fires_above_the_registration_rmse(stages: dict[str, Any], env: str) -> None:
    alarms = [
        resource["Properties"]
        for key, resource in _json(stages[env].monitoring[MODEL])["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm" and "ModelQuality" in key
    ]
    (stat,) = [metric["MetricStat"] for metric in alarms[0]["Metrics"]]
    assert (stat["Metric"]["MetricName"], stat["Stat"], alarms[0]["ComparisonOperator"], alarms[0]["Threshold"]) == (
        contract.MODEL_RMSE,
        "Maximum",
        "GreaterThanThreshold",
        60,
    )
    assert alarms[0]["AlarmDescription"] == f"{MODEL} ({env}): RMSE on labelled traffic above 60"


def test_model_monitor_runs_a_regression_model_quality_job(stages: dict[str, Any]) -> None:
    jobs = [
        resource["Properties"]
        for resource in _json(stages["prod"].monitoring[MODEL])["Resources"].values()
        if resource["Type"] == "AWS::SageMaker::ModelQualityJobDefinition"
    ]
    assert len(jobs) == 1
    assert jobs[0]["ModelQualityAppSpecification"]["ProblemType"] == "Regression"
    endpoint_input = jobs[0]["ModelQualityJobInput"]["EndpointInput"]
    assert endpoint_input["InferenceAttribute"] == "0"
    assert "ProbabilityAttribute" not in endpoint_input and "ProbabilityThresholdAttribute" not in endpoint_input


# --- Alarms and dashboards of each problem type, without the app ------------------------------------------------

METRICS = ModelMetrics(model="m", environment="e", endpoint_name="ep")


@pytest.mark.parametrize(
    ("problem_type", "alarms", "expected"),
    [
        ("binary_classification", AlarmSettings(), (contract.MODEL_AUC, "Minimum", "LESS_THAN_THRESHOLD", 0.85)),
        (
            "multiclass_classification",
            AlarmSettings(min_model_quality=0.7),
            (contract.MODEL_F1, "Minimum", "LESS_THAN_THRESHOLD", 0.7),
        ),
        ("regression", AlarmSettings(), (contract.MODEL_RMSE, "Maximum", "GREATER_THAN_THRESHOLD", 60)),
        (
            "regression",
            AlarmSettings(model_quality_alarm=QualityGate(metric="r2", threshold=0.3)),
            (contract.MODEL_R2, "Minimum", "LESS_THAN_THRESHOLD", 0.3),
        ),
        (
            "regression",
            AlarmSettings(model_quality_alarm=QualityGate(metric="mae", threshold=45)),
            (contract.MODEL_MAE, "Maximum", "GREATER_THAN_THRESHOLD", 45),
        ),
    ],
)
def test_the_quality_alarm_of_each_problem_type(
    problem_type: str, alarms: AlarmSettings, expected: tuple[str, str, str, float]
) -> None:
    chosen = quality_alarm(problem_type, alarms, QualityGate(**GATE))
    specs = {spec.construct_id: spec for spec in contract_alarm_specs("p", METRICS, alarms, chosen)}
    quality = specs["ModelQuality"]
    metric = quality.metric
    assert isinstance(metric, cdk.aws_cloudwatch.Metric)
    assert (metric.metric_name, metric.statistic, quality.comparison.name, quality.threshold) == expected
    # The alarm keeps its derived name whatever it watches: the retraining Lambda matches it.
    assert quality.alarm_name == "p-e-m-model-quality"


@pytest.mark.parametrize(
    ("quality_metrics", "alarmed", "titles", "series"),
    [
        (
            ("auc", "accuracy", "f1"),
            "auc",
            ("Model AUC on labelled traffic", "Accuracy and F1"),
            ["ModelAccuracy", "ModelF1"],
        ),
        (("accuracy", "f1"), "f1", ("Model F1 on labelled traffic", "Accuracy"), ["ModelAccuracy"]),
        (("rmse", "mae", "r2"), "rmse", ("Model RMSE on labelled traffic", "MAE and R2"), ["ModelMAE", "ModelR2"]),
    ],
)
def test_the_dashboard_shows_the_quality_metrics_of_each_problem_type(
    quality_metrics: tuple[str, ...], alarmed: str, titles: tuple[str, str], series: list[str]
) -> None:
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    alarms = ModelAlarms(
        stack,
        "Alarms",
        project="p",
        metrics=METRICS,
        mode="realtime",
        settings=AlarmSettings(),
        topic=sns.Topic(stack, "T"),
        dead_letter_queue=sqs.Queue(stack, "Q"),
        pipeline_names=["p-e-m-monitoring"],
        quality=QualityGate(metric=alarmed, threshold=0.5 if alarmed != "rmse" else 60),  # type: ignore[arg-type]
    )
    ModelDashboard(
        stack,
        "Dashboard",
        dashboard_name="d",
        metrics=METRICS,
        alarms=alarms,
        mode="realtime",
        pipeline_names=["p-e-m-monitoring"],
        monitoring_period=cdk.Duration.hours(1),
        quality_metrics=quality_metrics,
    )
    body = json.dumps(part_template(stack).find_resources("AWS::CloudWatch::Dashboard"))
    widgets = json.loads("".join(part for part in _body_parts(body) if isinstance(part, str)))["widgets"]
    by_title = {w["properties"].get("title"): w for w in widgets}
    assert titles[0] in by_title
    graph = by_title[titles[1]]["properties"]
    assert [m[1] for m in graph["metrics"]] == series
    bounded = alarmed != "rmse"
    assert graph.get("yAxis", {}).get("left", {}).get("max") == (1 if bounded else None)


def _body_parts(found: str) -> list[Any]:
    # DashboardBody is an Fn::Join of literal pieces and the region token; the pieces carry the widgets.
    resource = next(iter(json.loads(found).values()))
    body = resource["Properties"]["DashboardBody"]
    parts: list[Any] = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return [part if isinstance(part, str) else "eu-west-1" for part in parts]
