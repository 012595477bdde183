"""Retrain trigger: drift alarms forwarded from serving accounts (ALARM_SOURCES) retrain; nothing else widens.

A staging or prod drift alarm reaches the training account's default bus with its own ``account`` and ``region``.
Only alarm events from the listed ``<account>:<region>`` pairs are accepted besides the function's own account;
S3 and schedule events from those accounts are still rejected.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
import retrain

from tests.lambda_.conftest import Invoke

REGION = "eu-west-1"
STAGING = "222222222222"
STAGING_ALARM = "churn-staging-feature-drift"
Event = dict[str, Any]


@pytest.fixture
def forwarded_env(retrain_env: dict[str, str]) -> dict[str, str]:
    """The function's environment in the registry account, hearing staging's drift alarm too."""
    names = [*json.loads(retrain_env["ALARM_NAMES"]), STAGING_ALARM]
    return {**retrain_env, "ALARM_NAMES": json.dumps(names), "ALARM_SOURCES": json.dumps([f"{STAGING}:us-east-1"])}


def _from_staging(event: Event, region: str = "us-east-1") -> Event:
    event["account"] = STAGING
    event["region"] = region
    if "alarmName" in event["detail"]:
        event["detail"]["alarmName"] = STAGING_ALARM
        event["resources"] = [f"arn:aws:cloudwatch:{region}:{STAGING}:alarm:{STAGING_ALARM}"]
    return event


def test_sources_default_to_none(retrain_env: dict[str, str]) -> None:
    assert retrain.Settings.from_env(retrain_env).alarm_sources == frozenset()


def test_sources_are_parsed_into_account_region_pairs(forwarded_env: dict[str, str]) -> None:
    env = {**forwarded_env, "ALARM_SOURCES": json.dumps([f"{STAGING}:us-east-1", "333333333333:eu-west-1"])}

    settings = retrain.Settings.from_env(env)

    assert settings.alarm_sources == frozenset({(STAGING, "us-east-1"), ("333333333333", "eu-west-1")})


@pytest.mark.parametrize(
    "value",
    ["222222222222", '["222222222222"]', '["22:us-east-1"]', '["222222222222:Mars"]', "[1]", '{"a": "b"}'],
)
def test_bad_sources_fail_the_cold_start_naming_the_variable(forwarded_env: dict[str, str], value: str) -> None:
    with pytest.raises(retrain.ConfigError, match=r"ALARM_SOURCES=.* is invalid \(expected a JSON list of"):
        retrain.Settings.from_env({**forwarded_env, "ALARM_SOURCES": value})


def test_forwarded_alarm_from_a_listed_account_starts_the_pipeline(
    *,
    training_pipeline: str,
    forwarded_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
) -> None:
    handler = load_handler(forwarded_env)

    result = invoke(handler, _from_staging(load_event("alarm_state_change")))

    assert result["status"] == "started"
    assert result["trigger_reason"] == f"alarm:{STAGING_ALARM}"
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    summaries = sagemaker.list_pipeline_executions(PipelineName=training_pipeline)["PipelineExecutionSummaries"]
    assert [s["PipelineExecutionArn"] for s in summaries] == [result["execution_arn"]]


@pytest.mark.parametrize(
    ("account", "region", "code"),
    [("444444444444", "us-east-1", "wrong-account"), (STAGING, "eu-west-1", "wrong-account")],
)
def test_alarm_from_an_unlisted_account_or_region_is_rejected(
    *,
    training_pipeline: str,
    forwarded_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
    account: str,
    region: str,
    code: str,
) -> None:
    handler = load_handler(forwarded_env)
    event = _from_staging(load_event("alarm_state_change"), region)
    event["account"] = account

    result = invoke(handler, event)

    assert (result["status"], result["code"]) == ("rejected", code)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    assert sagemaker.list_pipeline_executions(PipelineName=training_pipeline)["PipelineExecutionSummaries"] == []


@pytest.mark.parametrize("event_name", ["s3_object_created", "scheduled_retrain"])
def test_listed_account_cannot_send_data_or_schedule_triggers(
    *,
    training_pipeline: str,
    forwarded_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
    event_name: str,
) -> None:
    handler = load_handler(forwarded_env)

    result = invoke(handler, _from_staging(load_event(event_name)))

    assert (result["status"], result["code"]) == ("rejected", "wrong-account")
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    assert sagemaker.list_pipeline_executions(PipelineName=training_pipeline)["PipelineExecutionSummaries"] == []
