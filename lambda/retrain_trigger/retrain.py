"""Retraining trigger logic: apply the guards to a validated trigger and start the pipeline once.

Kept free of Lambda and Powertools so it can be driven directly with an injected clock, logger
and AWS clients. All guard state (running executions, cool-down, daily cap, duplicates) is read
from SageMaker's own execution history; there is no extra table. The configuration is
``trigger_settings``, the event validation ``trigger_events``; both are re-exported here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]
from trigger_events import (
    ALARM_DETAIL_TYPE,
    ALARM_SOURCE,
    S3_DETAIL_TYPE,
    S3_SOURCE,
    SCHEDULER_DETAIL_TYPE,
    SCHEDULER_SOURCE,
    AlarmTrigger,
    EventRejectedError,
    NewDataTrigger,
    ScheduleTrigger,
    Trigger,
    parse_event,
    safe_excerpt,
)
from trigger_settings import ConfigError, Settings

__all__ = [
    "ALARM_DETAIL_TYPE",
    "ALARM_SOURCE",
    "S3_DETAIL_TYPE",
    "S3_SOURCE",
    "SCHEDULER_DETAIL_TYPE",
    "SCHEDULER_SOURCE",
    "AlarmTrigger",
    "AwsClients",
    "ConfigError",
    "EventRejectedError",
    "NewDataTrigger",
    "Outcome",
    "ScheduleTrigger",
    "Settings",
    "Trigger",
    "client_config",
    "client_request_token",
    "display_name",
    "event_tag",
    "handle_trigger",
    "parse_event",
    "safe_excerpt",
    "utc_now",
]

# API limits of StartPipelineExecution.
DISPLAY_NAME_MAX: Final = 82
DESCRIPTION_MAX: Final = 3072
PARAMETER_VALUE_MAX: Final = 1024
DISPLAY_NAME_PATTERN: Final = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}$")

ACTIVE_STATUSES: Final = frozenset({"Executing", "Stopping"})
DAY: Final = timedelta(hours=24)
# Retries are botocore's standard mode ("Retries" in the Boto3 guide: throttling and transient errors and HTTP
# 500/502/503/504, exponential backoff with jitter, a retry quota), set on the clients by ``client_config``; the
# function has no retry loop of its own. StartPipelineExecution is safe to retry: ClientRequestToken dedupes it.
MAX_ATTEMPTS: Final = 5
"""Attempts in all per call (the first and four retries)."""
_HISTORY_PAGE_LIMIT: Final = 20
_S3_PAGE_SIZE: Final = 1000

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

Clock = Callable[[], datetime]


class LogSink(Protocol):
    """What the logic needs from a logger (Powertools ``Logger`` and ``logging.Logger`` fit)."""

    def info(self, msg: object, *, extra: Mapping[str, object] | None = ...) -> None: ...

    def warning(self, msg: object, *, extra: Mapping[str, object] | None = ...) -> None: ...

    def error(self, msg: object, *, extra: Mapping[str, object] | None = ...) -> None: ...


class SageMakerApi(Protocol):
    """The two SageMaker calls the function makes (a boto3 ``sagemaker`` client fits)."""

    def list_pipeline_executions(self, **kwargs: Any) -> dict[str, Any]: ...

    def start_pipeline_execution(self, **kwargs: Any) -> dict[str, Any]: ...


class S3Api(Protocol):
    """The one S3 call the function makes (a boto3 ``s3`` client fits)."""

    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class AwsClients:
    """AWS clients handed to the logic; built once per container by the handler."""

    sagemaker: SageMakerApi
    s3: S3Api


@dataclass(frozen=True)
class Outcome:
    """What one invocation did; ``as_result`` is the Lambda's return value."""

    status: Literal["started", "skipped", "rejected"]
    code: str
    detail: str
    trigger_reason: str | None = None
    execution_arn: str | None = None

    def log_fields(self, trigger: Trigger) -> dict[str, object]:
        """Structured fields of the one outcome log line."""
        return {
            "outcome": self.status,
            "reason": self.code,
            "detail": self.detail,
            "trigger": type(trigger).__name__,
            "source_event_id": trigger.event_id,
            "trigger_reason": self.trigger_reason,
            "execution_arn": self.execution_arn,
        }

    def as_result(self) -> dict[str, str]:
        """Small JSON-safe dict for the Lambda response and the log line."""
        result = {"status": self.status, "code": self.code, "detail": self.detail}
        if self.trigger_reason is not None:
            result["trigger_reason"] = self.trigger_reason
        if self.execution_arn is not None:
            result["execution_arn"] = self.execution_arn
        return result


@dataclass(frozen=True)
class ExecutionSummary:
    """The parts of a pipeline execution summary the guards use."""

    arn: str
    display_name: str
    status: str
    start_time: datetime | None


@dataclass(frozen=True)
class NewData:
    """New objects under the prefix since the last start (counting may stop early)."""

    objects: int
    total_bytes: int
    complete: bool


def event_tag(trigger: Trigger, settings: Settings) -> str:
    """16 hex chars identifying the source event; ends every display name this function sets."""
    return _digest(trigger, settings)[:16]


def client_request_token(trigger: Trigger, settings: Settings) -> str:
    """StartPipelineExecution idempotency token (64 hex chars, within the API's 32-128)."""
    return _digest(trigger, settings)


def _digest(trigger: Trigger, settings: Settings) -> str:
    return hashlib.sha256(f"{settings.pipeline_name}|{trigger.dedup_key}".encode()).hexdigest()


def display_name(trigger: Trigger, settings: Settings, subject: str | None = None) -> str:
    """``<kind>-<subject>-<tag>`` squeezed into the display-name pattern and 82 chars."""
    tag = event_tag(trigger, settings)
    slug = re.sub(
        r"[^A-Za-z0-9]+",
        "-",
        subject if subject is not None else trigger.display_subject,
    )
    room = DISPLAY_NAME_MAX - len(trigger.display_kind) - len(tag) - 2
    slug = slug[:room].strip("-")
    name = "-".join(part for part in (trigger.display_kind, slug, tag) if part)
    assert DISPLAY_NAME_PATTERN.fullmatch(name), name  # construction guarantees it
    return name


def load_history(sagemaker: SageMakerApi, settings: Settings, now: datetime, logger: LogSink) -> list[ExecutionSummary]:
    """Executions started within the look-back window, newest first."""
    since = now - settings.history_lookback
    request: dict[str, Any] = {
        "PipelineName": settings.pipeline_name,
        "CreatedAfter": since,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 100,
    }
    summaries: list[ExecutionSummary] = []
    for _ in range(_HISTORY_PAGE_LIMIT):
        page = _call(logger, "ListPipelineExecutions", sagemaker.list_pipeline_executions, **request)
        for item in page.get("PipelineExecutionSummaries", []):
            start = item.get("StartTime")
            summary = ExecutionSummary(
                arn=str(item.get("PipelineExecutionArn", "")),
                display_name=str(item.get("PipelineExecutionDisplayName", "")),
                status=str(item.get("PipelineExecutionStatus", "")),
                start_time=start if isinstance(start, datetime) else None,
            )
            # Filter here too: not every implementation honours CreatedAfter.
            if summary.start_time is None or summary.start_time >= since or summary.status in ACTIVE_STATUSES:
                summaries.append(summary)
        token = page.get("NextToken")
        if not token:
            break
        request["NextToken"] = token
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(summaries, key=lambda s: s.start_time or epoch, reverse=True)


def count_new_data(s3: S3Api, settings: Settings, since: datetime | None, logger: LogSink) -> NewData:
    """Count objects under the prefix modified after ``since``; stop once a threshold is met."""
    objects = total = listed = 0
    request: dict[str, Any] = {
        "Bucket": settings.data_bucket,
        "Prefix": settings.data_prefix,
        "MaxKeys": _S3_PAGE_SIZE,
    }
    while True:
        page = _call(logger, "ListObjectsV2", s3.list_objects_v2, **request)
        for item in page.get("Contents", []):
            listed += 1
            modified = item.get("LastModified")
            if str(item.get("Key", "")).endswith("/"):
                continue
            if since is not None and isinstance(modified, datetime) and modified <= since:
                continue
            objects += 1
            total += int(item.get("Size", 0))
        if _enough(settings, objects, total):
            return NewData(objects, total, complete=not page.get("IsTruncated", False))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return NewData(objects, total, complete=True)
        if listed >= settings.max_listed_objects:
            return NewData(objects, total, complete=False)
        request["ContinuationToken"] = token


def _enough(settings: Settings, objects: int, total_bytes: int) -> bool:
    # A zero threshold is switched off; config validation keeps at least one switched on.
    return (settings.min_new_objects > 0 and objects >= settings.min_new_objects) or (
        settings.min_new_bytes > 0 and total_bytes >= settings.min_new_bytes
    )


def client_config() -> Any:
    """The botocore client configuration of both clients: standard retry mode, bounded timeouts."""
    from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]

    return Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}, connect_timeout=5, read_timeout=20)


def _call(logger: LogSink, operation: str, fn: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """``fn(**kwargs)``; a ``ClientError`` (botocore already retried what was worth it) is logged and raised."""
    try:
        return fn(**kwargs)
    except ClientError as err:
        metadata = err.response.get("ResponseMetadata", {})
        retries = int(metadata.get("RetryAttempts", 0))
        logger.error(
            "AWS call failed; re-raising so the message returns to the queue and, in the end, its DLQ",
            extra={
                "operation": operation,
                "error_code": str(err.response.get("Error", {}).get("Code", "Unknown")),
                "attempts": retries + 1,
                # botocore marks a call whose retries ran out; anything else was not worth a retry.
                "failure": "transient-exhausted" if metadata.get("MaxAttemptsReached") else "permanent",
                "error_message": str(err)[:500],
            },
        )
        raise


def handle_trigger(
    trigger: Trigger,
    *,
    settings: Settings,
    clients: AwsClients,
    clock: Clock,
    logger: LogSink,
) -> Outcome:
    """Apply the guards to a valid trigger and start the pipeline at most once."""
    now = clock()
    history = load_history(clients.sagemaker, settings, now, logger)
    tag = event_tag(trigger, settings)

    duplicate = next((e for e in history if e.display_name.endswith(f"-{tag}")), None)
    if duplicate is not None:
        return _skip("duplicate-event", f"event already started {duplicate.arn}", duplicate.arn)
    running = next((e for e in history if e.status in ACTIVE_STATUSES), None)
    if running is not None:
        return _skip("execution-running", f"{running.arn} is {running.status}", running.arn)
    last_start = next((e.start_time for e in history if e.start_time is not None), None)
    # A zero cool-down is off; otherwise a start that looks a little in the future (clock
    # skew between SageMaker and this function) counts as within the cool-down.
    cooling = settings.cooldown > timedelta(0) and last_start is not None
    if cooling and last_start is not None and now - last_start < settings.cooldown:
        until = (last_start + settings.cooldown).isoformat()
        return _skip("cooldown", f"last start {last_start.isoformat()}, cool-down until {until}")
    recent = sum(1 for e in history if e.start_time is not None and now - e.start_time < DAY)
    if recent >= settings.daily_cap:
        return _skip(
            "daily-cap",
            f"{recent} executions started in the last 24 h, cap {settings.daily_cap}",
        )

    subject: str | None = None
    if isinstance(trigger, NewDataTrigger):
        new = count_new_data(clients.s3, settings, last_start, logger)
        if not _enough(settings, new.objects, new.total_bytes):
            since = last_start.isoformat() if last_start else "ever"
            partial = "" if new.complete else f" (listing stopped at {settings.max_listed_objects} keys)"
            return _skip(
                "not-enough-new-data",
                f"{new.objects} new objects / {new.total_bytes} bytes since {since}; "
                f"need {settings.min_new_objects} objects or {settings.min_new_bytes} bytes{partial}",
            )
        reason = f"new-data:{new.objects}{'+' if not new.complete else ''} objects"
        subject = f"{new.objects}-objects"
    elif isinstance(trigger, AlarmTrigger):
        reason = f"alarm:{trigger.alarm_name}"
    else:
        reason = f"schedule:{trigger.schedule}"

    reason = _printable(reason)[:PARAMETER_VALUE_MAX]
    request = {
        "PipelineName": settings.pipeline_name,
        "PipelineExecutionDisplayName": display_name(trigger, settings, subject),
        "PipelineExecutionDescription": _description(trigger, settings, reason),
        "PipelineParameters": [{"Name": settings.trigger_parameter_name, "Value": reason}],
        "ClientRequestToken": client_request_token(trigger, settings),
    }
    response = _call(logger, "StartPipelineExecution", clients.sagemaker.start_pipeline_execution, **request)
    arn = str(response["PipelineExecutionArn"])
    return Outcome(
        "started",
        "started",
        f"started {request['PipelineExecutionDisplayName']}",
        reason,
        arn,
    )


def _skip(code: str, detail: str, arn: str | None = None) -> Outcome:
    return Outcome("skipped", code, detail, execution_arn=arn)


def _description(trigger: Trigger, settings: Settings, reason: str) -> str:
    source = {
        AlarmTrigger: ALARM_SOURCE,
        NewDataTrigger: S3_SOURCE,
        ScheduleTrigger: SCHEDULER_SOURCE,
    }[type(trigger)]
    text = (
        f"Retraining {settings.model_name} ({settings.environment_name}) because {reason}. "
        f"Source event: {source} id {trigger.event_id} at {trigger.event_time.isoformat()}"
    )
    if isinstance(trigger, NewDataTrigger):
        text += f"; object s3://{settings.data_bucket}/{trigger.key}"
    return _printable(text)[:DESCRIPTION_MAX]


def _printable(text: str) -> str:
    # S3 keys may hold control characters; the API's ``.*`` patterns stop at a newline.
    return _CONTROL_CHARS.sub("?", text)


def utc_now() -> datetime:
    """The production clock."""
    return datetime.now(UTC)
