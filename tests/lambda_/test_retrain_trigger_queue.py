"""Retrain trigger: the SQS FIFO batch around each trigger, as the event source mapping delivers it.

Bad batches and bad records are rejected with one log line and no AWS call; a rejected record is consumed (never
retried, so it cannot hold up the pipeline's message group). A record that fails on AWS is reported, with every
record after it, in the partial batch response, so the group stays in order and nothing after it is half-done.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.lambda_.conftest import ACCOUNT, REGION, TRIGGER_QUEUE_ARN, sqs_event, sqs_record

Event = dict[str, Any]


def _executions(pipeline: str) -> list[dict[str, Any]]:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    summaries: list[dict[str, Any]] = sagemaker.list_pipeline_executions(PipelineName=pipeline)[
        "PipelineExecutionSummaries"
    ]
    return summaries


def _record_calls(handler: ModuleType) -> list[str]:
    calls: list[str] = []
    clients = handler.aws_clients()
    for client in (clients.sagemaker, clients.s3):
        client.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    return calls


def _with(record: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**record, **fields}


@pytest.mark.parametrize(
    ("build", "code"),
    [
        pytest.param(lambda e: e, "not-an-sqs-batch", id="direct-invocation-with-the-eventbridge-event"),
        pytest.param(lambda e: {"Records": []}, "not-an-sqs-batch", id="no-records"),
        pytest.param(lambda e: {"Records": json.dumps(e)}, "not-an-sqs-batch", id="records-not-a-list"),
        pytest.param(lambda e: {"Records": [{"body": json.dumps(e)}]}, "bad-sqs-record", id="record-without-id"),
        pytest.param(lambda e: {"Records": [json.dumps(e)]}, "bad-sqs-record", id="record-not-an-object"),
    ],
)
def test_a_payload_that_is_not_an_sqs_batch_is_rejected_whole(
    *,
    build: Callable[[Event], object],
    code: str,
    training_pipeline: str,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    read_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    handler = load_handler(retrain_env)
    calls = _record_calls(handler)
    read_logs()

    response = handler.lambda_handler(build(load_event("alarm_state_change")), lambda_context)

    assert response == {"batchItemFailures": []}  # nothing a retry could fix
    assert calls == []
    assert _executions(training_pipeline) == []
    (record,) = read_logs()
    assert (record["level"], record["message"], record["reason"]) == ("WARNING", "retrain trigger rejected", code)
    assert len(record["event_excerpt"]) <= 512 + len("...(truncated)")


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        pytest.param({"eventSource": "aws:kinesis"}, "not-from-sqs", id="not-from-sqs"),
        pytest.param(
            {"eventSourceARN": TRIGGER_QUEUE_ARN.replace(ACCOUNT, "999999999999")},
            "queue-not-for-model",
            id="queue-of-another-account",
        ),
        pytest.param(
            {"eventSourceARN": TRIGGER_QUEUE_ARN.replace(REGION, "us-east-1")},
            "queue-not-for-model",
            id="queue-in-another-region",
        ),
        pytest.param({"eventSourceARN": "not-an-arn"}, "queue-not-for-model", id="source-arn-not-an-arn"),
        pytest.param({"body": {"source": "aws.cloudwatch"}}, "bad-sqs-record", id="body-not-a-string"),
        pytest.param({"body": None}, "bad-sqs-record", id="body-missing"),
        pytest.param({"body": '{"source": "aws.cloudwatch",'}, "not-json", id="body-malformed-json"),
        pytest.param({"body": ""}, "not-json", id="body-empty"),
        pytest.param({"body": "x" * 70_000}, "oversized", id="body-oversized"),
    ],
)
def test_a_bad_record_is_logged_consumed_and_never_acted_on(
    *,
    edit: dict[str, Any],
    code: str,
    training_pipeline: str,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    read_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    handler = load_handler(retrain_env)
    calls = _record_calls(handler)
    record = _with(sqs_record(json.dumps(load_event("alarm_state_change"))), **edit)
    read_logs()

    response = handler.lambda_handler(sqs_event(record), lambda_context)

    assert response == {"batchItemFailures": []}  # consumed: a bad message does not block the group
    assert calls == []
    assert _executions(training_pipeline) == []
    (line,) = read_logs()
    assert (line["level"], line["reason"], line["message_id"]) == ("WARNING", code, record["messageId"])
    assert "\n" not in line["event_excerpt"]


def test_a_malformed_message_does_not_hold_up_the_trigger_behind_it(
    *,
    training_pipeline: str,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    read_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    handler = load_handler(retrain_env)
    bad = sqs_record("{not json")
    good = sqs_record(json.dumps(load_event("alarm_state_change")))

    response = handler.lambda_handler(sqs_event(bad, good), lambda_context)

    assert response == {"batchItemFailures": []}
    (execution,) = _executions(training_pipeline)
    outcomes = [(r.get("outcome"), r.get("message_id")) for r in read_logs() if "outcome" in r]
    assert outcomes == [("rejected", bad["messageId"]), ("started", good["messageId"])]
    assert execution["PipelineExecutionDisplayName"].startswith("alarm-churn-dev-feature-drift-")


def _stub_history_error(handler: ModuleType, monkeypatch: pytest.MonkeyPatch, code: str) -> Stubber:
    import retrain

    sagemaker = boto3.client("sagemaker", region_name=REGION)
    stub = Stubber(sagemaker)
    stub.add_client_error("list_pipeline_executions", service_error_code=code, http_status_code=400)
    clients = retrain.AwsClients(sagemaker=sagemaker, s3=boto3.client("s3", region_name=REGION))
    monkeypatch.setattr(handler, "aws_clients", lambda: clients)
    return stub


def test_an_aws_failure_reports_that_record_and_every_later_one_in_order(
    *,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    read_logs: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = load_handler(retrain_env)
    rejected = sqs_record("[]")
    failing = sqs_record(json.dumps(load_event("alarm_state_change")))
    after = sqs_record(json.dumps(load_event("scheduled_retrain")))
    stub = _stub_history_error(handler, monkeypatch, "AccessDeniedException")

    with stub:  # one error queued and nothing else: a call for the record after the failure would raise here
        response = handler.lambda_handler(sqs_event(rejected, failing, after), lambda_context)
        stub.assert_no_pending_responses()

    # The FIFO processor stops at the first failure; SQS redelivers the two, in order, after the visibility timeout.
    assert response == {
        "batchItemFailures": [{"itemIdentifier": failing["messageId"]}, {"itemIdentifier": after["messageId"]}]
    }
    errors = [r for r in read_logs() if r["level"] == "ERROR" and r.get("operation")]
    assert [(e["operation"], e["error_code"]) for e in errors] == [("ListPipelineExecutions", "AccessDeniedException")]


def test_records_before_a_failure_are_done_and_not_reported(
    *,
    training_pipeline: str,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
) -> None:
    # The second record names a pipeline that does not exist in moto: SageMaker refuses it.
    handler = load_handler({**retrain_env, "COOLDOWN_MINUTES": "0", "DAILY_CAP": "100"})
    first = sqs_record(json.dumps(load_event("alarm_state_change")))
    second = sqs_record(json.dumps(load_event("scheduled_retrain")))
    sagemaker = handler.aws_clients().sagemaker
    calls = {"n": 0}

    def fail_second_start(params: dict[str, Any], **_: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            params["PipelineName"] = "no-such-pipeline"

    sagemaker.meta.events.register("provide-client-params.sagemaker.StartPipelineExecution", fail_second_start)

    response = handler.lambda_handler(sqs_event(first, second), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": second["messageId"]}]}
    (execution,) = _executions(training_pipeline)
    assert execution["PipelineExecutionDisplayName"].startswith("alarm-")
