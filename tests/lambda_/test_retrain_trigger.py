"""Retrain trigger: each trigger starts the pipeline once, with its reason; the guards hold.

The handler runs against moto with a real pipeline. moto records every execution as
``Succeeded`` with ``StartTime`` = wall-clock now, and ignores ``CreatedAfter``/sorting, so:
cool-down and daily-cap tests drive the plain function with an injected clock on top of moto;
the "already running" guard (``Executing``, which moto cannot express) uses botocore's Stubber.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
import retrain
from botocore.stub import Stubber

from tests.lambda_.conftest import Invoke

REGION = "eu-west-1"
Event = dict[str, Any]


def _executions(pipeline: str) -> list[dict[str, Any]]:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    summaries: list[dict[str, Any]] = sagemaker.list_pipeline_executions(PipelineName=pipeline)[
        "PipelineExecutionSummaries"
    ]
    return summaries


def _parameters(execution_arn: str) -> dict[str, str]:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    params = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution_arn)["PipelineParameters"]
    return {p["Name"]: p["Value"] for p in params}


def _started(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in logs if r.get("outcome") == "started"]


def test_alarm_event_starts_pipeline_with_reason_recorded(
    *,
    training_pipeline: str,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
    read_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    handler = load_handler(retrain_env)
    event = load_event("alarm_state_change")

    result = invoke(handler, event)

    assert result["status"] == "started"
    assert result["trigger_reason"] == "alarm:churn-dev-feature-drift"
    (execution,) = _executions(training_pipeline)
    assert execution["PipelineExecutionArn"] == result["execution_arn"]
    name = execution["PipelineExecutionDisplayName"]
    assert re.fullmatch(r"alarm-churn-dev-feature-drift-[0-9a-f]{16}", name)
    assert "because alarm:churn-dev-feature-drift" in execution["PipelineExecutionDescription"]
    assert event["id"] in execution["PipelineExecutionDescription"]
    assert _parameters(result["execution_arn"]) == {"TriggerReason": "alarm:churn-dev-feature-drift"}
    (record,) = _started(read_logs())
    assert record["level"] == "INFO"
    assert record["source_event_id"] == event["id"]
    assert record["execution_arn"] == result["execution_arn"]
    assert record["function_name"] == lambda_context.function_name  # context injected
    assert record["service"] == retrain_env["POWERTOOLS_SERVICE_NAME"]


def test_quality_alarm_of_the_same_model_also_triggers(
    *,
    training_pipeline: str,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
) -> None:
    handler = load_handler(retrain_env)
    event = load_event("alarm_state_change")
    event["detail"]["alarmName"] = "churn-dev-model-quality"

    result = invoke(handler, event)

    assert result["trigger_reason"] == "alarm:churn-dev-model-quality"
    assert len(_executions(training_pipeline)) == 1


def test_new_data_starts_only_once_the_minimum_count_has_landed(
    *,
    training_pipeline: str,
    data_bucket: Any,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
    read_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    handler = load_handler(retrain_env)  # MIN_NEW_OBJECTS=3
    prefix = retrain_env["DATA_PREFIX"]
    data_bucket.put_object(Bucket=retrain_env["DATA_BUCKET"], Key="elsewhere/x.csv", Body=b"1")
    for part in (1, 2):
        data_bucket.put_object(Bucket=retrain_env["DATA_BUCKET"], Key=f"{prefix}part-{part}.csv", Body=b"a,b\n")
    first = load_event("s3_object_created")
    first["detail"]["object"]["key"] = f"{prefix}part-2.csv"

    early = invoke(handler, first)

    assert early["status"] == "skipped"
    assert early["code"] == "not-enough-new-data"
    assert _executions(training_pipeline) == []

    data_bucket.put_object(Bucket=retrain_env["DATA_BUCKET"], Key=f"{prefix}part-3.csv", Body=b"a,b\n")
    third = load_event("s3_object_created")
    third["id"] = "2f0a8c1e-0000-4b3c-9d1e-000000000003"
    third["detail"]["object"]["key"] = f"{prefix}part-3.csv"

    result = invoke(handler, third)

    assert result["status"] == "started"
    assert result["trigger_reason"] == "new-data:3 objects"
    (execution,) = _executions(training_pipeline)
    assert re.fullmatch(r"new-data-3-objects-[0-9a-f]{16}", execution["PipelineExecutionDisplayName"])
    assert f"s3://{retrain_env['DATA_BUCKET']}/{prefix}part-3.csv" in (execution["PipelineExecutionDescription"])
    assert _parameters(result["execution_arn"]) == {"TriggerReason": "new-data:3 objects"}
    skipped = [r for r in read_logs() if r.get("outcome") == "skipped"]
    assert skipped[0]["reason"] == "not-enough-new-data"


def test_new_data_byte_threshold_alone_can_trigger(
    *,
    training_pipeline: str,
    data_bucket: Any,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
) -> None:
    handler = load_handler({**retrain_env, "MIN_NEW_OBJECTS": "0", "MIN_NEW_BYTES": "5000"})
    key = retrain_env["DATA_PREFIX"] + "big.parquet"
    data_bucket.put_object(Bucket=retrain_env["DATA_BUCKET"], Key=key, Body=b"x" * 6000)
    event = load_event("s3_object_created")
    event["detail"]["object"]["key"] = key

    result = invoke(handler, event)

    assert result["status"] == "started"
    assert result["trigger_reason"] == "new-data:1 objects"


def test_scheduled_event_starts_pipeline(
    *,
    training_pipeline: str,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
) -> None:
    handler = load_handler(retrain_env)

    result = invoke(handler, load_event("scheduled_retrain"))

    assert result["status"] == "started"
    (execution,) = _executions(training_pipeline)
    assert re.fullmatch(
        r"schedule-churn-dev-weekly-retrain-[0-9a-f]{16}",
        execution["PipelineExecutionDisplayName"],
    )
    assert _parameters(result["execution_arn"]) == {"TriggerReason": "schedule:churn-dev-weekly-retrain"}


@pytest.mark.parametrize("event_name", ["alarm_state_change", "s3_object_created", "scheduled_retrain"])
def test_same_event_delivered_twice_starts_one_execution(
    *,
    event_name: str,
    training_pipeline: str,
    data_bucket: Any,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
) -> None:
    # No cool-down and a high cap: only the duplicate guard can stop the second start.
    handler = load_handler({**retrain_env, "COOLDOWN_MINUTES": "0", "DAILY_CAP": "100", "MIN_NEW_OBJECTS": "1"})
    event = load_event(event_name)
    data_bucket.put_object(Bucket=retrain_env["DATA_BUCKET"], Key=retrain_env["DATA_PREFIX"] + "a.csv", Body=b"1")

    first = invoke(handler, event)
    second = invoke(handler, json.loads(json.dumps(event)))

    assert first["status"] == "started"
    assert second == {
        "status": "skipped",
        "code": "duplicate-event",
        "detail": f"event already started {first['execution_arn']}",
        "execution_arn": first["execution_arn"],
    }
    assert len(_executions(training_pipeline)) == 1


def test_scheduler_retry_of_the_same_occurrence_is_a_duplicate(
    *,
    training_pipeline: str,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
) -> None:
    # Scheduler gives every attempt a new execution id; the scheduled time is what repeats.
    handler = load_handler({**retrain_env, "COOLDOWN_MINUTES": "0", "DAILY_CAP": "100"})
    attempt_1 = load_event("scheduled_retrain")
    attempt_2 = load_event("scheduled_retrain")
    attempt_2["id"] = "e8a1f0c2b3d4e5f6"
    attempt_2["detail"]["attempt"] = "2"
    next_week = load_event("scheduled_retrain")
    next_week["id"] = "a0b1c2d3e4f5a6b7"
    next_week["time"] = "2025-06-08T02:00:00Z"

    results = [invoke(handler, e) for e in (attempt_1, attempt_2, next_week)]

    assert [r["status"] for r in results] == ["started", "skipped", "started"]
    assert results[1]["code"] == "duplicate-event"
    assert len(_executions(training_pipeline)) == 2


def _stubbed_clients() -> tuple[retrain.AwsClients, Stubber, Stubber]:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    return retrain.AwsClients(sagemaker=sagemaker, s3=s3), Stubber(sagemaker), Stubber(s3)


@pytest.mark.parametrize("status", ["Executing", "Stopping"])
def test_trigger_while_an_execution_is_running_is_skipped(
    *,
    status: str,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
    read_logs: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stubber, not moto: moto marks every execution Succeeded the moment it starts.
    handler = load_handler(retrain_env)
    clients, sagemaker_stub, s3_stub = _stubbed_clients()
    running_arn = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/churn-dev-training/execution/run1"
    sagemaker_stub.add_response(
        "list_pipeline_executions",
        {
            "PipelineExecutionSummaries": [
                {
                    "PipelineExecutionArn": running_arn,
                    "StartTime": datetime.now(UTC) - timedelta(hours=3),
                    "PipelineExecutionStatus": status,
                    "PipelineExecutionDisplayName": "schedule-weekly-0123456789abcdef",
                }
            ]
        },
    )
    monkeypatch.setattr(handler, "aws_clients", lambda: clients)

    with sagemaker_stub, s3_stub:  # no StartPipelineExecution response queued: a start would fail
        result = invoke(handler, load_event("alarm_state_change"))
        sagemaker_stub.assert_no_pending_responses()

    assert result["status"] == "skipped"
    assert result["code"] == "execution-running"
    assert result["execution_arn"] == running_arn
    (record,) = [r for r in read_logs() if r.get("outcome") == "skipped"]
    assert record["reason"] == "execution-running"
    assert status in record["detail"]


def _run(event: Event, settings: retrain.Settings, now: datetime) -> retrain.Outcome:
    """The plain function with an injected clock, on moto's real clients."""
    clients = retrain.AwsClients(
        sagemaker=boto3.client("sagemaker", region_name=REGION),
        s3=boto3.client("s3", region_name=REGION),
    )
    trigger = retrain.parse_event(event, settings)
    return retrain.handle_trigger(
        trigger,
        settings=settings,
        clients=clients,
        clock=lambda: now,
        logger=_NullLogger(),
    )


class _NullLogger:
    def info(self, msg: object, *, extra: Any = None) -> None:
        pass

    def warning(self, msg: object, *, extra: Any = None) -> None:
        pass

    def error(self, msg: object, *, extra: Any = None) -> None:
        pass


def _alarm(load_event: Callable[[str], Event], event_id: str) -> Event:
    event = load_event("alarm_state_change")
    event["id"] = event_id
    return event


def test_cooldown_blocks_starts_until_it_has_passed(
    *, training_pipeline: str, retrain_env: dict[str, str], load_event: Callable[[str], Event]
) -> None:
    settings = retrain.Settings.from_env({**retrain_env, "COOLDOWN_MINUTES": "60", "DAILY_CAP": "10"})
    now = datetime.now(UTC)

    first = _run(_alarm(load_event, "ev-1"), settings, now)
    during = _run(_alarm(load_event, "ev-2"), settings, now + timedelta(minutes=59))
    after = _run(_alarm(load_event, "ev-2"), settings, now + timedelta(minutes=61))

    assert first.status == "started"
    assert (during.status, during.code) == ("skipped", "cooldown")
    assert after.status == "started"
    assert len(_executions(training_pipeline)) == 2


def test_daily_cap_counts_starts_of_the_last_24_hours(
    *, training_pipeline: str, retrain_env: dict[str, str], load_event: Callable[[str], Event]
) -> None:
    settings = retrain.Settings.from_env({**retrain_env, "COOLDOWN_MINUTES": "0", "DAILY_CAP": "2"})
    now = datetime.now(UTC)

    outcomes = [_run(_alarm(load_event, f"ev-{i}"), settings, now) for i in range(3)]
    next_day = _run(_alarm(load_event, "ev-3"), settings, now + timedelta(hours=24, minutes=1))

    assert [o.status for o in outcomes] == ["started", "started", "skipped"]
    assert outcomes[2].code == "daily-cap"
    assert outcomes[2].detail == "2 executions started in the last 24 h, cap 2"
    assert next_day.status == "started"
    assert len(_executions(training_pipeline)) == 3


def test_new_data_counts_only_objects_since_the_last_start(
    *, retrain_env: dict[str, str], load_event: Callable[[str], Event]
) -> None:
    # Stubber: the test needs object timestamps on both sides of the last start.
    settings = retrain.Settings.from_env({**retrain_env, "COOLDOWN_MINUTES": "0"})
    clients, sagemaker_stub, s3_stub = _stubbed_clients()
    now = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
    last_start = now - timedelta(hours=30)
    sagemaker_stub.add_response(
        "list_pipeline_executions",
        {
            "PipelineExecutionSummaries": [
                {
                    "PipelineExecutionArn": "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/p/execution/old",
                    "StartTime": last_start,
                    "PipelineExecutionStatus": "Succeeded",
                    "PipelineExecutionDisplayName": "schedule-weekly-0123456789abcdef",
                }
            ]
        },
    )
    prefix = settings.data_prefix
    contents = (
        [
            {"Key": f"{prefix}old-{i}.csv", "Size": 10, "LastModified": last_start - timedelta(minutes=i)}
            for i in range(5)
        ]
        + [
            {"Key": f"{prefix}new-{i}.csv", "Size": 10, "LastModified": last_start + timedelta(hours=i + 1)}
            for i in range(2)
        ]
        + [{"Key": f"{prefix}folder/", "Size": 0, "LastModified": now}]
    )
    s3_stub.add_response(
        "list_objects_v2",
        {"Contents": contents, "IsTruncated": False, "KeyCount": len(contents)},
        {"Bucket": settings.data_bucket, "Prefix": prefix, "MaxKeys": 1000},
    )
    trigger = retrain.parse_event(load_event("s3_object_created"), settings)

    with sagemaker_stub, s3_stub:
        outcome = retrain.handle_trigger(
            trigger,
            settings=settings,
            clients=clients,
            clock=lambda: now,
            logger=_NullLogger(),
        )

    assert (outcome.status, outcome.code) == ("skipped", "not-enough-new-data")
    assert outcome.detail.startswith("2 new objects / 20 bytes since 2025-06-01T04:00:00+00:00")


def test_long_hostile_names_still_fit_the_api_limits(
    *, training_pipeline: str, retrain_env: dict[str, str], load_event: Callable[[str], Event]
) -> None:
    alarm = "drift/" + "\u00e9x " * 75 + "!!" + "y" * 10
    settings = retrain.Settings.from_env({**retrain_env, "ALARM_NAMES": json.dumps([alarm])})
    event = load_event("alarm_state_change")
    event["detail"]["alarmName"] = alarm

    outcome = _run(event, settings, datetime.now(UTC))

    assert outcome.status == "started"
    (execution,) = _executions(training_pipeline)
    name = execution["PipelineExecutionDisplayName"]
    assert len(name) <= 82
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}", name)
    assert name.startswith("alarm-drift-x-x-")
    assert len(execution["PipelineExecutionDescription"]) <= 3072
    assert _parameters(outcome.execution_arn or "")["TriggerReason"] == f"alarm:{alarm}"


def test_clients_use_botocore_standard_retries(
    *,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    moto_aws: None,
) -> None:
    handler = load_handler(retrain_env)

    clients = handler.aws_clients()

    for client in (clients.sagemaker, clients.s3):
        # retrain.client_config sets five attempts in all (the first and four retries).
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
        assert client.meta.region_name == retrain_env["EXPECTED_REGION"]
