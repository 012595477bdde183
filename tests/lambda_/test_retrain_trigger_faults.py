"""Retrain trigger under AWS faults: botocore's standard retry mode does the retrying, nothing starts twice.

The clients are real botocore clients with the function's own configuration (``retrain.client_config``); every
HTTP answer is canned at ``before-send``, after botocore's retry handler, so throttles and 503s go through the same
retry logic as in Lambda (and the recorded back-off replaces the sleeps). The function itself has no retry loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import botocore.endpoint
import pytest
import retrain
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

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


class _Body:
    """The raw stream botocore reads an HTTP body from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


class Harness:
    """Real clients (standard retry mode) answered by canned HTTP responses, one per attempt."""

    def __init__(self, settings: retrain.Settings) -> None:
        self.settings = settings
        sagemaker = boto3.client("sagemaker", region_name=REGION, config=retrain.client_config())
        s3 = boto3.client("s3", region_name=REGION, config=retrain.client_config())
        self.clients = retrain.AwsClients(sagemaker=sagemaker, s3=s3)
        self.answers: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.sent: dict[str, list[dict[str, Any]]] = {}
        self.logger = RecordingLogger()
        sagemaker.meta.events.register("before-send.sagemaker", self._answer)
        s3.meta.events.register("before-send.s3", self._answer)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        target = dict(request.headers).get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else str(target)).rpartition(".")[2]
        self.sent.setdefault(operation, []).append(json.loads(request.body or b"{}"))
        queue = self.answers.get(operation)
        if not queue:
            raise AssertionError(f"unexpected {operation} call: {request.body!r}")
        status, body = queue.pop(0)
        headers = {"x-amzn-RequestId": "req-1", "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))

    def _queue(self, operation: str, status: int, body: dict[str, Any]) -> None:
        self.answers.setdefault(operation, []).append((status, body))

    def history(self, *summaries: dict[str, Any], next_token: str | None = None) -> None:
        page: dict[str, Any] = {
            "PipelineExecutionSummaries": [
                {key: value.timestamp() if isinstance(value, datetime) else value for key, value in item.items()}
                for item in summaries
            ]
        }
        if next_token:
            page["NextToken"] = next_token
        self._queue("ListPipelineExecutions", 200, page)

    def started(self) -> None:
        self._queue("StartPipelineExecution", 200, {"PipelineExecutionArn": EXECUTION_ARN})

    def error(self, operation: str, code: str, status: int, times: int = 1) -> None:
        for _ in range(times):
            self._queue(operation, status, {"__type": code, "message": code})

    def run(self, event: dict[str, Any]) -> retrain.Outcome:
        trigger = retrain.parse_event(event, self.settings)
        return retrain.handle_trigger(
            trigger, settings=self.settings, clients=self.clients, clock=lambda: NOW, logger=self.logger
        )

    def errors_logged(self) -> list[dict[str, object]]:
        return [fields for level, _, fields in self.logger.records if level == "ERROR"]

    def pending(self) -> dict[str, int]:
        return {operation: len(queue) for operation, queue in self.answers.items() if queue}


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's back-off delays, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", recorded.append)
    return recorded


@pytest.fixture
def harness(retrain_env: dict[str, str], sleeps: list[float]) -> Iterator[Harness]:
    """A harness whose canned answers must all have been used by the end of the test."""
    h = Harness(retrain.Settings.from_env(retrain_env))
    yield h
    assert h.pending() == {}


@pytest.fixture
def alarm_event(load_event: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The real-shaped drift alarm event."""
    return load_event("alarm_state_change")


def _backoff_ok(delays: list[float]) -> bool:
    # Standard mode: a random delay up to 2 ** (attempt - 1) seconds, capped at 20 ("Retries", Boto3 guide).
    return all(0 <= delay <= min(20, 2**attempt) for attempt, delay in enumerate(delays))


def test_a_throttled_start_is_retried_by_botocore_and_starts_exactly_once(
    harness: Harness, sleeps: list[float], alarm_event: dict[str, Any]
) -> None:
    harness.history()
    harness.error("StartPipelineExecution", "ThrottlingException", 400)
    harness.started()

    outcome = harness.run(alarm_event)

    assert (outcome.status, outcome.execution_arn) == ("started", EXECUTION_ARN)
    first, second = harness.sent["StartPipelineExecution"]
    assert first == second  # the retry resends the same ClientRequestToken: SageMaker dedupes on it
    assert len(first["ClientRequestToken"]) == 64
    assert len(sleeps) == 1 and _backoff_ok(sleeps)
    assert harness.logger.records == []  # a retry that succeeded is botocore's business, not an error


def test_a_throttled_history_read_is_retried(
    harness: Harness, sleeps: list[float], alarm_event: dict[str, Any]
) -> None:
    harness.error("ListPipelineExecutions", "ThrottlingException", 400, times=2)
    harness.history()
    harness.started()

    assert harness.run(alarm_event).status == "started"
    assert len(harness.sent["ListPipelineExecutions"]) == 3
    assert len(harness.sent["StartPipelineExecution"]) == 1
    assert len(sleeps) == 2 and _backoff_ok(sleeps)


def test_throttling_that_never_ends_is_raised_after_five_attempts_without_a_start(
    harness: Harness, sleeps: list[float], alarm_event: dict[str, Any]
) -> None:
    harness.history()
    harness.error("StartPipelineExecution", "ThrottlingException", 400, times=retrain.MAX_ATTEMPTS)

    with pytest.raises(ClientError) as raised:
        harness.run(alarm_event)

    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(harness.sent["StartPipelineExecution"]) == 5
    assert len(sleeps) == 4 and _backoff_ok(sleeps)
    assert harness.errors_logged() == [
        {
            "operation": "StartPipelineExecution",
            "error_code": "ThrottlingException",
            "attempts": 5,
            "failure": "transient-exhausted",
            "error_message": "An error occurred (ThrottlingException) when calling the StartPipelineExecution "
            "operation (reached max retries: 4): ThrottlingException",
        }
    ]


def test_access_denied_is_raised_at_once_and_nothing_starts(
    harness: Harness, sleeps: list[float], alarm_event: dict[str, Any]
) -> None:
    harness.history()
    harness.error("StartPipelineExecution", "AccessDeniedException", 400)

    with pytest.raises(ClientError) as raised:
        harness.run(alarm_event)

    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert sleeps == []  # permanent: no retry
    assert len(harness.sent["StartPipelineExecution"]) == 1
    assert harness.errors_logged() == [
        {
            "operation": "StartPipelineExecution",
            "error_code": "AccessDeniedException",
            "attempts": 1,
            "failure": "permanent",
            "error_message": "An error occurred (AccessDeniedException) when calling the StartPipelineExecution "
            "operation: AccessDeniedException",
        }
    ]


def test_missing_pipeline_is_raised_before_any_start(harness: Harness, alarm_event: dict[str, Any]) -> None:
    harness.error("ListPipelineExecutions", "ResourceNotFound", 400)

    with pytest.raises(ClientError) as raised:
        harness.run(alarm_event)

    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"
    assert "StartPipelineExecution" not in harness.sent
    assert [(e["operation"], e["failure"], e["attempts"]) for e in harness.errors_logged()] == [
        ("ListPipelineExecutions", "permanent", 1)
    ]


def test_validation_error_on_start_is_raised_without_a_retry(
    harness: Harness, sleeps: list[float], alarm_event: dict[str, Any]
) -> None:
    harness.history()
    harness.error("StartPipelineExecution", "ValidationException", 400)

    with pytest.raises(ClientError) as raised:
        harness.run(alarm_event)

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert sleeps == []
    assert len(harness.sent["StartPipelineExecution"]) == 1


def test_redelivery_after_a_start_whose_answer_was_lost_starts_nothing(
    retrain_env: dict[str, str], sleeps: list[float], alarm_event: dict[str, Any]
) -> None:
    # First delivery: the start went through on SageMaker's side, but every answer was a 503.
    first = Harness(retrain.Settings.from_env(retrain_env))
    first.history()
    first.error("StartPipelineExecution", "ServiceUnavailable", 503, times=retrain.MAX_ATTEMPTS)
    with pytest.raises(ClientError):
        first.run(alarm_event)
    attempts = first.sent["StartPipelineExecution"]
    assert len(attempts) == 5
    assert {a["ClientRequestToken"] for a in attempts} == {attempts[0]["ClientRequestToken"]}
    assert [e["failure"] for e in first.errors_logged()] == ["transient-exhausted"]

    # The queue redelivers the same message; the execution is now in the history.
    second = Harness(retrain.Settings.from_env(retrain_env))
    second.history(
        {
            "PipelineExecutionArn": EXECUTION_ARN,
            "StartTime": NOW - timedelta(minutes=1),
            "PipelineExecutionStatus": "Executing",
            "PipelineExecutionDisplayName": attempts[0]["PipelineExecutionDisplayName"],
        }
    )
    outcome = second.run(alarm_event)

    assert (outcome.status, outcome.code, outcome.execution_arn) == ("skipped", "duplicate-event", EXECUTION_ARN)
    assert "StartPipelineExecution" not in second.sent
    assert second.pending() == {}


def test_history_is_paged_and_an_older_page_can_hold_the_duplicate(
    harness: Harness, alarm_event: dict[str, Any]
) -> None:
    tag = retrain.event_tag(retrain.parse_event(alarm_event, harness.settings), harness.settings)
    harness.history(
        {
            "PipelineExecutionArn": EXECUTION_ARN.replace("abc123def456", "newer"),
            "StartTime": NOW - timedelta(hours=5),
            "PipelineExecutionStatus": "Succeeded",
            "PipelineExecutionDisplayName": "schedule-weekly-0123456789abcdef",
        },
        next_token="page-2",
    )
    harness.history(
        {
            "PipelineExecutionArn": EXECUTION_ARN,
            "StartTime": NOW - timedelta(hours=6),
            "PipelineExecutionStatus": "Failed",
            "PipelineExecutionDisplayName": f"alarm-churn-dev-feature-drift-{tag}",
        }
    )

    outcome = harness.run(alarm_event)

    assert (outcome.status, outcome.code) == ("skipped", "duplicate-event")
    first, second = harness.sent["ListPipelineExecutions"]
    assert second == {**first, "NextToken": "page-2"}
    assert first == {
        "PipelineName": harness.settings.pipeline_name,
        "CreatedAfter": (NOW - timedelta(hours=168)).timestamp(),
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 100,
    }
    assert "StartPipelineExecution" not in harness.sent


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

    # moto's answer for a pipeline that does not exist (SageMaker's own is ResourceNotFound: the test above).
    assert (
        "An error occurred (ValidationException) when calling the ListPipelineExecutions operation: Could not find "
        "pipeline with PipelineName churn-dev-training." in str(raised.value)
    ), str(raised.value)

    errors = [r for r in read_logs() if r["level"] == "ERROR"]
    assert [(e["operation"], e["error_code"], e["attempts"], e["failure"]) for e in errors[:1]] == [
        ("ListPipelineExecutions", "ValidationException", 1, "permanent")
    ]
    assert errors[0]["function_name"] == lambda_context.function_name
