"""Retrain trigger under AWS faults (botocore Stubber): retries, permanent errors, no double start.

Stubber answers before botocore's retry handler runs, so every stubbed throttle reaches the
function's own bounded retry; the injected ``sleep`` records the back-off instead of waiting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
import retrain
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests.lambda_.conftest import sqs_event, sqs_record

REGION = "eu-west-1"
NOW = datetime(2025, 6, 2, 17, 5, tzinfo=UTC)
EXECUTION_ARN = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/churn-dev-training/execution/abc123def456"


class RecordingLogger:
    """Captures what the logic logs, as (level, message, fields)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, object]]] = []

    def _log(self, level: str, msg: object, extra: Any) -> None:
        self.records.append((level, str(msg), dict(extra or {})))

    def info(self, msg: object, *, extra: Any = None) -> None:
        self._log("INFO", msg, extra)

    def warning(self, msg: object, *, extra: Any = None) -> None:
        self._log("WARNING", msg, extra)

    def error(self, msg: object, *, extra: Any = None) -> None:
        self._log("ERROR", msg, extra)


class Harness:
    """Stubbed clients plus everything ``handle_trigger`` needs."""

    def __init__(self, settings: retrain.Settings) -> None:
        self.settings = settings
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        self.clients = retrain.AwsClients(sagemaker=sagemaker, s3=s3)
        self.sagemaker = Stubber(sagemaker)
        self.s3 = Stubber(s3)
        self.logger = RecordingLogger()
        self.sleeps: list[float] = []
        self.start_requests: list[dict[str, Any]] = []
        sagemaker.meta.events.register(
            "before-parameter-build.sagemaker.StartPipelineExecution",
            lambda params, **_: self.start_requests.append(dict(params)),
        )

    def history(self, *summaries: dict[str, Any]) -> None:
        self.sagemaker.add_response("list_pipeline_executions", {"PipelineExecutionSummaries": list(summaries)})

    def started(self) -> None:
        self.sagemaker.add_response("start_pipeline_execution", {"PipelineExecutionArn": EXECUTION_ARN})

    def error(self, method: str, code: str, status: int) -> None:
        self.sagemaker.add_client_error(method, service_error_code=code, service_message=code, http_status_code=status)

    def run(self, event: dict[str, Any]) -> retrain.Outcome:
        trigger = retrain.parse_event(event, self.settings)
        with self.sagemaker, self.s3:
            return retrain.handle_trigger(
                trigger,
                settings=self.settings,
                clients=self.clients,
                clock=lambda: NOW,
                logger=self.logger,
                sleep=self.sleeps.append,
            )

    def errors_logged(self) -> list[dict[str, object]]:
        return [fields for level, _, fields in self.logger.records if level == "ERROR"]


@pytest.fixture
def harness(retrain_env: dict[str, str]) -> Iterator[Harness]:
    """A harness whose stubs must all have been consumed by the end of the test."""
    h = Harness(retrain.Settings.from_env(retrain_env))
    yield h
    h.sagemaker.assert_no_pending_responses()
    h.s3.assert_no_pending_responses()


@pytest.fixture
def alarm_event(load_event: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The real-shaped drift alarm event."""
    return load_event("alarm_state_change")


def test_throttled_start_is_retried_and_starts_exactly_once(harness: Harness, alarm_event: dict[str, Any]) -> None:
    harness.history()
    harness.error("start_pipeline_execution", "ThrottlingException", 400)
    harness.started()

    outcome = harness.run(alarm_event)

    assert outcome.status == "started"
    assert outcome.execution_arn == EXECUTION_ARN
    assert harness.sleeps == [1.0]
    first, second = harness.start_requests
    assert first == second  # same display name and ClientRequestToken: SageMaker dedupes on it
    assert len(first["ClientRequestToken"]) == 64
    warnings = [f for level, _, f in harness.logger.records if level == "WARNING"]
    assert warnings == [
        {"operation": "StartPipelineExecution", "error_code": "ThrottlingException", "attempt": 1, "delay_s": 1.0}
    ]


def test_throttled_history_read_is_retried(harness: Harness, alarm_event: dict[str, Any]) -> None:
    harness.error("list_pipeline_executions", "ThrottlingException", 400)
    harness.error("list_pipeline_executions", "ThrottlingException", 400)
    harness.history()
    harness.started()

    outcome = harness.run(alarm_event)

    assert outcome.status == "started"
    assert harness.sleeps == [1.0, 2.0]
    assert len(harness.start_requests) == 1


def test_throttling_that_never_ends_is_raised_without_a_start(harness: Harness, alarm_event: dict[str, Any]) -> None:
    harness.history()
    for _ in range(3):
        harness.error("start_pipeline_execution", "ThrottlingException", 400)

    with pytest.raises(ClientError, match="ThrottlingException"):
        harness.run(alarm_event)

    assert harness.sleeps == [1.0, 2.0]
    (error,) = harness.errors_logged()
    assert error["failure"] == "transient-exhausted"
    assert error["operation"] == "StartPipelineExecution"


def test_access_denied_is_raised_at_once_and_nothing_starts(harness: Harness, alarm_event: dict[str, Any]) -> None:
    harness.history()
    harness.error("start_pipeline_execution", "AccessDeniedException", 400)

    with pytest.raises(ClientError) as raised:
        harness.run(alarm_event)

    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert harness.sleeps == []  # permanent: no retry
    assert len(harness.start_requests) == 1
    (error,) = harness.errors_logged()
    assert error == {
        "operation": "StartPipelineExecution",
        "error_code": "AccessDeniedException",
        "attempt": 1,
        "failure": "permanent",
        "error_message": "An error occurred (AccessDeniedException) when calling the StartPipelineExecution "
        "operation: AccessDeniedException",
    }


def test_missing_pipeline_is_raised_before_any_start(harness: Harness, alarm_event: dict[str, Any]) -> None:
    harness.error("list_pipeline_executions", "ResourceNotFound", 400)

    with pytest.raises(ClientError, match="ResourceNotFound"):
        harness.run(alarm_event)

    assert harness.start_requests == []  # no start response queued either: a start would have failed
    assert harness.errors_logged()[0]["failure"] == "permanent"


def test_validation_error_on_start_is_raised(harness: Harness, alarm_event: dict[str, Any]) -> None:
    harness.history()
    harness.error("start_pipeline_execution", "ValidationException", 400)

    with pytest.raises(ClientError, match="ValidationException"):
        harness.run(alarm_event)

    assert harness.sleeps == []


def test_redelivery_after_a_start_whose_answer_was_lost_starts_nothing(
    retrain_env: dict[str, str], alarm_event: dict[str, Any]
) -> None:
    # First delivery: the start went through on SageMaker's side, but every answer was a 503.
    first = Harness(retrain.Settings.from_env(retrain_env))
    first.history()
    for _ in range(3):
        first.error("start_pipeline_execution", "ServiceUnavailable", 503)
    with pytest.raises(ClientError):
        first.run(alarm_event)
    sent = first.start_requests[0]
    assert {r["ClientRequestToken"] for r in first.start_requests} == {sent["ClientRequestToken"]}

    # Lambda's async retry redelivers the same event; the execution is now in the history.
    second = Harness(retrain.Settings.from_env(retrain_env))
    second.history(
        {
            "PipelineExecutionArn": EXECUTION_ARN,
            "StartTime": NOW - timedelta(minutes=1),
            "PipelineExecutionStatus": "Executing",
            "PipelineExecutionDisplayName": sent["PipelineExecutionDisplayName"],
        }
    )
    outcome = second.run(alarm_event)

    assert (outcome.status, outcome.code, outcome.execution_arn) == ("skipped", "duplicate-event", EXECUTION_ARN)
    assert second.start_requests == []
    second.sagemaker.assert_no_pending_responses()


def test_history_is_paged_and_an_older_page_can_hold_the_duplicate(
    harness: Harness, alarm_event: dict[str, Any]
) -> None:
    tag = retrain.event_tag(retrain.parse_event(alarm_event, harness.settings), harness.settings)
    harness.sagemaker.add_response(
        "list_pipeline_executions",
        {
            "PipelineExecutionSummaries": [
                {
                    "PipelineExecutionArn": EXECUTION_ARN.replace("abc123def456", "newer"),
                    "StartTime": NOW - timedelta(hours=5),
                    "PipelineExecutionStatus": "Succeeded",
                    "PipelineExecutionDisplayName": "schedule-weekly-0123456789abcdef",
                }
            ],
            "NextToken": "page-2",
        },
    )
    harness.sagemaker.add_response(
        "list_pipeline_executions",
        {
            "PipelineExecutionSummaries": [
                {
                    "PipelineExecutionArn": EXECUTION_ARN,
                    "StartTime": NOW - timedelta(hours=6),
                    "PipelineExecutionStatus": "Failed",
                    "PipelineExecutionDisplayName": f"alarm-churn-dev-feature-drift-{tag}",
                }
            ]
        },
        {
            "PipelineName": harness.settings.pipeline_name,
            "CreatedAfter": NOW - timedelta(hours=168),
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 100,
            "NextToken": "page-2",
        },
    )

    outcome = harness.run(alarm_event)

    assert (outcome.status, outcome.code) == ("skipped", "duplicate-event")
    assert harness.start_requests == []


def test_handler_reraises_permanent_errors_so_the_invocation_fails(
    *,
    moto_aws: None,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], dict[str, Any]],
    lambda_context: Any,
    read_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    # moto, and no pipeline was ever created: SageMaker refuses. The batch's one record failed, so Powertools fails
    # the whole invocation and Lambda returns the message to the queue (retried until it dead-letters).
    handler = load_handler(retrain_env)
    event = sqs_event(sqs_record(json.dumps(load_event("alarm_state_change"))))

    with pytest.raises(BatchProcessingError) as raised:
        handler.lambda_handler(event, lambda_context)

    assert "ResourceNotFound" in str(raised.value) or "ValidationException" in str(raised.value)

    errors = [r for r in read_logs() if r["level"] == "ERROR"]
    assert errors[0]["operation"] == "ListPipelineExecutions"
    assert errors[0]["failure"] == "permanent"
    assert errors[0]["function_name"] == lambda_context.function_name
