"""E9010 (schedule expressions), E9011 (run time within the period), E9012 (ground-truth offsets)."""

from __future__ import annotations

from typing import Any

import pytest

from cfn_rules._shared import monitoring_period_seconds
from tests.cfn_rules.lint_helpers import fired, template

ROLE = "arn:aws:iam::111111111111:role/monitor"


def _job(kind: str, runtime: int, **endpoint_input: str) -> dict[str, Any]:
    type_, input_key = {
        "ModelQuality": ("AWS::SageMaker::ModelQualityJobDefinition", "ModelQualityJobInput"),
        "ModelBias": ("AWS::SageMaker::ModelBiasJobDefinition", "ModelBiasJobInput"),
        "DataQuality": ("AWS::SageMaker::DataQualityJobDefinition", "DataQualityJobInput"),
    }[kind]
    job_input: dict[str, Any] = {
        "EndpointInput": {"EndpointName": "ep", "LocalPath": "/opt/ml/processing/input", **endpoint_input}
    }
    if kind != "DataQuality":
        job_input["GroundTruthS3Input"] = {"S3Uri": "s3://b/gt/"}
    return {
        "Type": type_,
        "Properties": {
            "JobDefinitionName": f"job-{kind}",
            input_key: job_input,
            "RoleArn": ROLE,
            "StoppingCondition": {"MaxRuntimeInSeconds": runtime},
        },
    }


def _schedule(kind: str, expression: str, job_id: str = "Job") -> dict[str, Any]:
    return {
        "Type": "AWS::SageMaker::MonitoringSchedule",
        "Properties": {
            "MonitoringScheduleName": f"s-{kind}",
            "MonitoringScheduleConfig": {
                "MonitoringJobDefinitionName": {"Fn::GetAtt": [job_id, "JobDefinitionName"]},
                "MonitoringType": kind,
                "ScheduleConfig": {"ScheduleExpression": expression},
            },
        },
    }


OFFSETS = {"StartTimeOffset": "-PT2H", "EndTimeOffset": "-PT1H"}


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("cron(0 * ? * * *)", 3600),
        ("cron(0 12 ? * * *)", 86400),
        ("cron(0 0 ? * * *)", 86400),
        ("cron(0 17/12 ? * * *)", 43200),
        ("cron(0 0/2 ? * * *)", 7200),
        ("NOW", 0),
        ("cron(30 * ? * * *)", None),
        ("cron(0 3 ? * MON *)", None),
        ("rate(1 hour)", None),
        ("cron(0 24 ? * * *)", None),
    ],
)
def test_monitoring_period_of_each_schedule_form(expression: str, period: int | None) -> None:
    assert monitoring_period_seconds(expression) == period


def test_schedule_expression_model_monitor_refuses_fires() -> None:
    doc = template(Job=_job("DataQuality", 3600), Schedule=_schedule("DataQuality", "cron(0 3 ? * MON *)"))
    assert fired(doc) == ["E9010"]


def test_accepted_schedule_expression_passes() -> None:
    doc = template(Job=_job("DataQuality", 3600), Schedule=_schedule("DataQuality", "cron(0 0/6 ? * * *)"))
    assert fired(doc) == []


@pytest.mark.parametrize("kind", ["ModelQuality", "ModelBias"])
def test_hourly_quality_or_bias_job_over_1800_seconds_fires(kind: str) -> None:
    doc = template(Job=_job(kind, 3600, **OFFSETS), Schedule=_schedule(kind, "cron(0 * ? * * *)"))
    assert fired(doc) == ["E9011"]


@pytest.mark.parametrize("kind", ["ModelQuality", "ModelBias"])
def test_hourly_quality_or_bias_job_of_1800_seconds_passes(kind: str) -> None:
    doc = template(Job=_job(kind, 1800, **OFFSETS), Schedule=_schedule(kind, "cron(0 * ? * * *)"))
    assert fired(doc) == []


def test_hourly_data_quality_may_take_the_hour_but_not_more() -> None:
    ok = template(Job=_job("DataQuality", 3600), Schedule=_schedule("DataQuality", "cron(0 * ? * * *)"))
    over = template(Job=_job("DataQuality", 3601), Schedule=_schedule("DataQuality", "cron(0 * ? * * *)"))
    assert fired(ok) == []
    assert fired(over) == ["E9011"]


def test_daily_quality_job_may_run_longer_than_an_hour() -> None:
    doc = template(Job=_job("ModelQuality", 7200, **OFFSETS), Schedule=_schedule("ModelQuality", "cron(0 3 ? * * *)"))
    assert fired(doc) == []


def test_schedule_joined_to_its_job_by_literal_name() -> None:
    schedule = _schedule("ModelQuality", "cron(0 * ? * * *)")
    schedule["Properties"]["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] = "job-ModelQuality"
    doc = template(Job=_job("ModelQuality", 2400, **OFFSETS), Schedule=schedule)
    assert fired(doc) == ["E9011"]


@pytest.mark.parametrize("kind", ["ModelQuality", "ModelBias"])
def test_quality_or_bias_input_without_offsets_fires(kind: str) -> None:
    assert fired(template(Job=_job(kind, 1800))) == ["E9012"]
    assert fired(template(Job=_job(kind, 1800, StartTimeOffset="-PT2H"))) == ["E9012"]


@pytest.mark.parametrize("kind", ["ModelQuality", "ModelBias"])
def test_quality_or_bias_input_with_ordered_offsets_passes(kind: str) -> None:
    assert fired(template(Job=_job(kind, 1800, **OFFSETS))) == []
    assert fired(template(Job=_job(kind, 1800, StartTimeOffset="-P8D", EndTimeOffset="-P1D"))) == []


def test_reversed_or_malformed_offsets_fire() -> None:
    reversed_ = template(Job=_job("ModelQuality", 1800, StartTimeOffset="-PT1H", EndTimeOffset="-PT2H"))
    malformed = template(Job=_job("ModelQuality", 1800, StartTimeOffset="PT2H", EndTimeOffset="-PT1H"))
    assert fired(reversed_) == ["E9012"]
    assert fired(malformed) == ["E9012"]


def test_data_quality_needs_no_offsets() -> None:
    assert fired(template(Job=_job("DataQuality", 3600))) == []


def test_job_input_with_both_an_endpoint_and_a_batch_transform_fires() -> None:
    job = _job("DataQuality", 3600)
    job["Properties"]["DataQualityJobInput"]["BatchTransformInput"] = {
        "DataCapturedDestinationS3Uri": "s3://b/capture",
        "DatasetFormat": {"Csv": {"Header": False}},
        "LocalPath": "/opt/ml/processing/input",
    }
    assert fired(template(Job=job)) == ["E9013"]


def test_job_input_with_one_source_passes() -> None:
    assert fired(template(Job=_job("DataQuality", 3600))) == []
