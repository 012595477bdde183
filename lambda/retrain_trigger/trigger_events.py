"""Trigger events: an EventBridge-shaped event validated into a typed trigger, or rejected with a stable code.

The three sources are CloudWatch alarm state changes, S3 "Object Created" events (both as EventBridge delivers them)
and the Scheduler schedule's EventBridge-shaped payload. Nothing here calls AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from trigger_settings import Settings

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
EXCERPT_MAX: Final = 512
_EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_SCHEDULE_NAME = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")


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
