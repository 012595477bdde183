"""Retraining trigger logic: parse trigger events, apply the guards, start the pipeline once.

Kept free of Lambda and Powertools so it can be driven directly with an injected clock, logger
and AWS clients. All guard state (running executions, cool-down, daily cap, duplicates) is read
from SageMaker's own execution history; there is no extra table.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

ALARM_SOURCE: Final = "aws.cloudwatch"
ALARM_DETAIL_TYPE: Final = "CloudWatch Alarm State Change"
S3_SOURCE: Final = "aws.s3"
S3_DETAIL_TYPE: Final = "Object Created"
SCHEDULER_SOURCE: Final = "mlops.scheduler"
SCHEDULER_DETAIL_TYPE: Final = "Scheduled Retrain"
_DETAIL_TYPES: Final = {
    ALARM_SOURCE: ALARM_DETAIL_TYPE,
    S3_SOURCE: S3_DETAIL_TYPE,
    SCHEDULER_SOURCE: SCHEDULER_DETAIL_TYPE,
}

# API limits of StartPipelineExecution.
DISPLAY_NAME_MAX: Final = 82
DESCRIPTION_MAX: Final = 3072
PARAMETER_VALUE_MAX: Final = 1024
DISPLAY_NAME_PATTERN: Final = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}$")

ACTIVE_STATUSES: Final = frozenset({"Executing", "Stopping"})
DAY: Final = timedelta(hours=24)
EXCERPT_MAX: Final = 512
# Error codes worth another try after botocore's own retries gave up (or never ran, e.g. a
# throttle answered by a proxy). Everything else is permanent: log, re-raise, let the DLQ have it.
TRANSIENT_ERROR_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_HISTORY_PAGE_LIMIT: Final = 20
_S3_PAGE_SIZE: Final = 1000

_EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_SCHEDULE_NAME = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


class ConfigError(ValueError):
    """The function's environment variables are missing or invalid (raised at cold start)."""


class EventRejectedError(ValueError):
    """The event is not a trigger for this model; ``code`` is a stable machine-readable reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def log_fields(self, event: object) -> dict[str, object]:
        """Structured fields of the one rejection log line (with a safe excerpt of the event)."""
        return {
            "outcome": "rejected",
            "reason": self.code,
            "detail": self.detail,
            "event_excerpt": safe_excerpt(event),
        }


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
class Settings:
    """Validated configuration of one function (one model in one environment)."""

    pipeline_name: str
    model_name: str
    environment_name: str
    expected_account: str
    expected_region: str
    alarm_names: frozenset[str]
    data_bucket: str
    data_prefix: str
    min_new_objects: int
    min_new_bytes: int
    cooldown: timedelta
    daily_cap: int
    trigger_parameter_name: str = "TriggerReason"
    service_name: str = "retrain-trigger"
    log_level: str = "INFO"
    max_event_bytes: int = 65536
    history_lookback: timedelta = timedelta(hours=168)
    max_listed_objects: int = 100_000
    transient_retry_attempts: int = 3
    # Other (account, region) pairs whose alarm state changes are forwarded to this bus: drift alarms of serving
    # environments in other accounts. S3 and schedule events must still come from this account and region.
    alarm_sources: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and validate the environment; raise ``ConfigError`` naming every bad variable."""
        reader = _EnvReader(env)
        settings = cls(
            pipeline_name=reader.pattern("PIPELINE_NAME", _PIPELINE_NAME, "a SageMaker pipeline name"),
            model_name=reader.pattern("MODEL_NAME", _NAME, "1-64 of [A-Za-z0-9._-]"),
            environment_name=reader.pattern("ENVIRONMENT_NAME", _NAME, "1-64 of [A-Za-z0-9._-]"),
            expected_account=reader.pattern("EXPECTED_ACCOUNT", _ACCOUNT, "a 12-digit account id"),
            expected_region=reader.pattern("EXPECTED_REGION", _REGION, "a region such as eu-west-1"),
            alarm_names=reader.alarm_names("ALARM_NAMES"),
            data_bucket=reader.pattern("DATA_BUCKET", _BUCKET, "an S3 bucket name"),
            data_prefix=reader.prefix("DATA_PREFIX"),
            min_new_objects=reader.integer("MIN_NEW_OBJECTS", 0, 10_000_000),
            min_new_bytes=reader.integer("MIN_NEW_BYTES", 0, 2**53),
            cooldown=timedelta(minutes=reader.integer("COOLDOWN_MINUTES", 0, 10_080)),
            daily_cap=reader.integer("DAILY_CAP", 1, 100),
            trigger_parameter_name=reader.pattern(
                "TRIGGER_PARAMETER_NAME",
                _PARAMETER_NAME,
                "1-256 of [A-Za-z0-9_-]",
                "TriggerReason",
            ),
            service_name=reader.pattern(
                "POWERTOOLS_SERVICE_NAME",
                re.compile(r"^\S{1,128}$"),
                "a non-empty name",
            ),
            log_level=reader.choice("LOG_LEVEL", _LOG_LEVELS, "INFO"),
            max_event_bytes=reader.integer("MAX_EVENT_BYTES", 1024, 1_048_576, 65536),
            history_lookback=timedelta(hours=reader.integer("HISTORY_LOOKBACK_HOURS", 24, 24 * 90, 168)),
            max_listed_objects=reader.integer("MAX_LISTED_OBJECTS", 1000, 10_000_000, 100_000),
            alarm_sources=reader.alarm_sources("ALARM_SOURCES"),
        )
        if (
            "MIN_NEW_OBJECTS" not in reader.errors
            and "MIN_NEW_BYTES" not in reader.errors
            and settings.min_new_objects == 0
            and settings.min_new_bytes == 0
        ):
            reader.fail("MIN_NEW_OBJECTS", "and MIN_NEW_BYTES are both 0; set at least one > 0")
        if reader.errors:
            problems = "; ".join(reader.errors.values())
            raise ConfigError(f"invalid retrain-trigger configuration: {problems}")
        if settings.cooldown > settings.history_lookback:
            raise ConfigError(
                "invalid retrain-trigger configuration: COOLDOWN_MINUTES must not exceed "
                "HISTORY_LOOKBACK_HOURS, or the last start could be missed"
            )
        return settings


class _EnvReader:
    """Collects every configuration problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.errors: dict[str, str] = {}

    def fail(self, name: str, problem: str) -> None:
        joiner = "" if problem.startswith("=") else " "
        self.errors.setdefault(name, f"{name}{joiner}{problem}")

    def _raw(self, name: str, default: str | None) -> str | None:
        value = self._env.get(name)
        if value is None or value.strip() == "":
            if default is None:
                self.fail(name, "is missing")
            return default
        return value.strip()

    def pattern(
        self,
        name: str,
        regex: re.Pattern[str],
        allowed: str,
        default: str | None = None,
    ) -> str:
        value = self._raw(name, default)
        if value is None:
            return ""
        if not regex.fullmatch(value):
            self.fail(name, f"={value[:80]!r} is invalid (expected {allowed})")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = (self._raw(name, default) or default).upper()
        if value not in allowed:
            self.fail(
                name,
                f"={value[:80]!r} is invalid (expected one of {', '.join(allowed)})",
            )
        return value

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int:
        raw = self._raw(name, None if default is None else str(default))
        if raw is None:
            return 0
        try:
            value = int(raw, 10)
        except ValueError:
            self.fail(name, f"={raw[:80]!r} is not an integer (expected {low}..{high})")
            return 0
        if not low <= value <= high:
            self.fail(name, f"={value} is out of range (expected {low}..{high})")
        return value

    def prefix(self, name: str) -> str:
        value = self._raw(name, None)
        if value is None:
            return ""
        if value.startswith("/") or not value.endswith("/") or len(value) > 512:
            self.fail(
                name,
                f"={value[:80]!r} is invalid (expected 'some/prefix/': no leading /, trailing /)",
            )
        return value

    def alarm_names(self, name: str) -> frozenset[str]:
        raw = self._raw(name, None)
        if raw is None:
            return frozenset()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(item, str) and 0 < len(item) <= 255 for item in parsed):
            self.fail(name, f"={raw[:80]!r} is invalid (expected a JSON list of alarm names)")
            return frozenset()
        return frozenset(parsed)

    def alarm_sources(self, name: str) -> frozenset[tuple[str, str]]:
        raw = self._raw(name, "[]")
        try:
            parsed = json.loads(raw or "[]")
        except ValueError:
            parsed = None
        pairs = [item.split(":") for item in parsed if isinstance(item, str)] if isinstance(parsed, list) else []
        if (
            not isinstance(parsed, list)
            or len(pairs) != len(parsed)
            or not all(len(p) == 2 and _ACCOUNT.fullmatch(p[0]) and _REGION.fullmatch(p[1]) for p in pairs)
        ):
            self.fail(name, f'={(raw or "")[:80]!r} is invalid (expected a JSON list of "<account>:<region>")')
            return frozenset()
        return frozenset((account, region) for account, region in pairs)


@dataclass(frozen=True)
class AlarmTrigger:
    """One of the model's alarms entered ALARM."""

    event_id: str
    event_time: datetime
    alarm_name: str

    @property
    def dedup_key(self) -> str:
        """Identity of the source event: EventBridge redelivers with the same id."""
        return f"{ALARM_SOURCE}|{self.event_id}"

    @property
    def display_kind(self) -> str:
        """Prefix of the execution display name."""
        return "alarm"

    @property
    def display_subject(self) -> str:
        """Readable part of the execution display name."""
        return self.alarm_name


@dataclass(frozen=True)
class NewDataTrigger:
    """A new object landed under the model's training-data prefix."""

    event_id: str
    event_time: datetime
    key: str
    size: int

    @property
    def dedup_key(self) -> str:
        """Identity of the source event: EventBridge redelivers with the same id."""
        return f"{S3_SOURCE}|{self.event_id}"

    @property
    def display_kind(self) -> str:
        """Prefix of the execution display name."""
        return "new-data"

    @property
    def display_subject(self) -> str:
        """Readable part of the execution display name (the count is added at start time)."""
        return ""


@dataclass(frozen=True)
class ScheduleTrigger:
    """EventBridge Scheduler fired the model's retraining schedule."""

    event_id: str
    event_time: datetime
    schedule: str

    @property
    def dedup_key(self) -> str:
        """Schedule name plus scheduled time.

        Scheduler assigns a new execution id to each attempt at the same occurrence, so the id
        alone would let a Scheduler retry start a second execution.
        """
        return f"{SCHEDULER_SOURCE}|{self.schedule}|{self.event_time.isoformat()}"

    @property
    def display_kind(self) -> str:
        """Prefix of the execution display name."""
        return "schedule"

    @property
    def display_subject(self) -> str:
        """Readable part of the execution display name."""
        return self.schedule


Trigger = AlarmTrigger | NewDataTrigger | ScheduleTrigger


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


def safe_excerpt(event: object, limit: int = EXCERPT_MAX) -> str:
    """A bounded, ASCII-only rendering of any event, fit for one log field."""
    try:
        text = json.dumps(event, default=repr, sort_keys=True, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = f"<unserializable {type(event).__name__}>"
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


def parse_event(event: object, settings: Settings) -> Trigger:
    """Validate an invocation payload into a typed trigger, or raise ``EventRejectedError``."""
    if not isinstance(event, dict):
        raise EventRejectedError("not-an-object", f"payload is a {type(event).__name__}, not a JSON object")
    try:
        size = len(json.dumps(event, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise EventRejectedError("not-json", f"payload is not plain JSON: {type(exc).__name__}") from None
    if size > settings.max_event_bytes:
        raise EventRejectedError("oversized", f"payload is {size} bytes, limit {settings.max_event_bytes}")

    source = _field(event, "source", str)
    expected_type = _DETAIL_TYPES.get(source)
    if expected_type is None:
        raise EventRejectedError("unknown-source", f"source {source[:64]!r} is not a retraining trigger")
    detail_type = _field(event, "detail-type", str)
    if detail_type != expected_type:
        raise EventRejectedError(
            "wrong-detail-type",
            f"{source} event has detail-type {detail_type[:64]!r}, expected {expected_type!r}",
        )
    event_id = _field(event, "id", str)
    if not _EVENT_ID.fullmatch(event_id):
        raise EventRejectedError("bad-event-id", "id must be 1-128 of [A-Za-z0-9._:-]")
    account = _field(event, "account", str)
    region = _field(event, "region", str)
    forwarded = source == ALARM_SOURCE and (account, region) in settings.alarm_sources
    if account != settings.expected_account and not forwarded:
        raise EventRejectedError(
            "wrong-account",
            f"account {account[:16]!r} is not {settings.expected_account}",
        )
    if region != settings.expected_region and not forwarded:
        raise EventRejectedError("wrong-region", f"region {region[:32]!r} is not {settings.expected_region}")
    event_time = _parse_time(_field(event, "time", str))
    detail = _field(event, "detail", dict)

    if source == ALARM_SOURCE:
        return _parse_alarm(detail, event_id, event_time, settings)
    if source == S3_SOURCE:
        return _parse_new_data(detail, event_id, event_time, settings)
    return _parse_schedule(detail, event_id, event_time, settings)


def _field(container: Mapping[str, Any], name: str, kind: type, where: str = "") -> Any:
    value = container.get(name)
    if value is None:
        raise EventRejectedError("missing-field", f"{where}{name} is missing")
    # bool is an int subclass; a JSON true is never a valid size.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise EventRejectedError(
            "bad-field",
            f"{where}{name} is a {type(value).__name__}, expected {kind.__name__}",
        )
    return value


def _parse_time(raw: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise EventRejectedError("bad-time", f"time {raw[:40]!r} is not ISO 8601") from None
    # EventBridge and Scheduler send UTC with a Z; a naive time is read as UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_alarm(detail: Mapping[str, Any], event_id: str, when: datetime, settings: Settings) -> AlarmTrigger:
    alarm_name = _field(detail, "alarmName", str, "detail.")
    if alarm_name not in settings.alarm_names:
        raise EventRejectedError(
            "alarm-not-for-model",
            f"alarm {alarm_name[:255]!r} does not belong to {settings.model_name}",
        )
    state = _field(_field(detail, "state", dict, "detail."), "value", str, "detail.state.")
    if state != "ALARM":
        raise EventRejectedError(
            "alarm-not-firing",
            f"alarm {alarm_name[:255]!r} changed to {state[:32]!r}, not ALARM",
        )
    return AlarmTrigger(event_id=event_id, event_time=when, alarm_name=alarm_name)


def _parse_new_data(detail: Mapping[str, Any], event_id: str, when: datetime, settings: Settings) -> NewDataTrigger:
    bucket = _field(_field(detail, "bucket", dict, "detail."), "name", str, "detail.bucket.")
    if bucket != settings.data_bucket:
        raise EventRejectedError(
            "bucket-not-for-model",
            f"bucket {bucket[:63]!r} is not {settings.data_bucket}",
        )
    obj = _field(detail, "object", dict, "detail.")
    key = _field(obj, "key", str, "detail.object.")
    if not key.startswith(settings.data_prefix):
        raise EventRejectedError("key-outside-prefix", f"key is not under {settings.data_prefix!r}")
    if key.endswith("/"):
        raise EventRejectedError("not-a-data-object", "key is a folder marker")
    size = obj.get("size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise EventRejectedError("bad-field", "detail.object.size must be a non-negative integer")
    return NewDataTrigger(event_id=event_id, event_time=when, key=key, size=size)


def _parse_schedule(detail: Mapping[str, Any], event_id: str, when: datetime, settings: Settings) -> ScheduleTrigger:
    model = _field(detail, "model", str, "detail.")
    environment = _field(detail, "environment", str, "detail.")
    if model != settings.model_name or environment != settings.environment_name:
        raise EventRejectedError(
            "schedule-not-for-model",
            f"schedule is for {model[:64]!r}/{environment[:64]!r}, "
            f"not {settings.model_name}/{settings.environment_name}",
        )
    schedule = _field(detail, "schedule", str, "detail.")
    if not _SCHEDULE_NAME.fullmatch(schedule):
        raise EventRejectedError("bad-field", "detail.schedule must be 1-64 of [0-9A-Za-z_.-]")
    return ScheduleTrigger(event_id=event_id, event_time=when, schedule=schedule)


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


def load_history(sagemaker: SageMakerApi, settings: Settings, now: datetime, retry: _Retry) -> list[ExecutionSummary]:
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
        page = retry.call("ListPipelineExecutions", sagemaker.list_pipeline_executions, **request)
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


def count_new_data(s3: S3Api, settings: Settings, since: datetime | None, retry: _Retry) -> NewData:
    """Count objects under the prefix modified after ``since``; stop once a threshold is met."""
    objects = total = listed = 0
    request: dict[str, Any] = {
        "Bucket": settings.data_bucket,
        "Prefix": settings.data_prefix,
        "MaxKeys": _S3_PAGE_SIZE,
    }
    while True:
        page = retry.call("ListObjectsV2", s3.list_objects_v2, **request)
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


class _Retry:
    """Bounded retry with exponential backoff for transient AWS errors; logs the rest and re-raises."""

    def __init__(self, logger: LogSink, sleep: Sleep, attempts: int, base_delay: float = 1.0) -> None:
        self._logger = logger
        self._sleep = sleep
        self._attempts = max(1, attempts)
        self._base_delay = base_delay

    def call(self, operation: str, fn: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        for attempt in range(1, self._attempts + 1):
            try:
                return fn(**kwargs)
            except ClientError as err:
                code = str(err.response.get("Error", {}).get("Code", "Unknown"))
                transient = code in TRANSIENT_ERROR_CODES
                fields = {
                    "operation": operation,
                    "error_code": code,
                    "attempt": attempt,
                }
                if transient and attempt < self._attempts:
                    delay = min(self._base_delay * 2 ** (attempt - 1), 8.0)
                    self._logger.warning(
                        "transient AWS error, retrying",
                        extra={**fields, "delay_s": delay},
                    )
                    self._sleep(delay)
                    continue
                self._logger.error(
                    "AWS call failed; re-raising so the async invocation lands in the DLQ",
                    extra={
                        **fields,
                        "failure": "transient-exhausted" if transient else "permanent",
                        "error_message": str(err)[:500],
                    },
                )
                raise
        raise AssertionError("unreachable")  # pragma: no cover


def handle_trigger(
    trigger: Trigger,
    *,
    settings: Settings,
    clients: AwsClients,
    clock: Clock,
    logger: LogSink,
    sleep: Sleep = time.sleep,
) -> Outcome:
    """Apply the guards to a valid trigger and start the pipeline at most once."""
    now = clock()
    retry = _Retry(logger, sleep, settings.transient_retry_attempts)
    history = load_history(clients.sagemaker, settings, now, retry)
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
        new = count_new_data(clients.s3, settings, last_start, retry)
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
    response = retry.call("StartPipelineExecution", clients.sagemaker.start_pipeline_execution, **request)
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
