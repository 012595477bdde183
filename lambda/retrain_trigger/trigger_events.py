"""Trigger events: an EventBridge-shaped event validated into a typed trigger, or rejected with a stable code.

The three sources are CloudWatch alarm state changes, S3 "Object Created" events (both as EventBridge delivers them)
and the Scheduler schedule's EventBridge-shaped payload. Nothing here calls AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from trigger_settings import Settings

if TYPE_CHECKING:
    import trigger_models

ALARM_SOURCE: Final = "aws.cloudwatch"
ALARM_DETAIL_TYPE: Final = "CloudWatch Alarm State Change"
S3_SOURCE: Final = "aws.s3"
S3_DETAIL_TYPE: Final = "Object Created"
SCHEDULER_SOURCE: Final = "mlops.scheduler"
SCHEDULER_DETAIL_TYPE: Final = "Scheduled Retrain"
DETAIL_TYPES: Final = {
    ALARM_SOURCE: ALARM_DETAIL_TYPE,
    S3_SOURCE: S3_DETAIL_TYPE,
    SCHEDULER_SOURCE: SCHEDULER_DETAIL_TYPE,
}
EXCERPT_MAX: Final = 512


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
    """Validate an invocation payload into a typed trigger, or raise ``EventRejectedError``.

    The shape (the EventBridge envelope and each source's detail) is checked by the pydantic models in
    ``trigger_models``; what is left here is whether the event is for this model: its account and region, alarm,
    bucket and prefix, or schedule.
    """
    if not isinstance(event, dict):
        raise EventRejectedError("not-an-object", f"payload is a {type(event).__name__}, not a JSON object")
    try:
        size = len(json.dumps(event, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise EventRejectedError("not-json", f"payload is not plain JSON: {type(exc).__name__}") from None
    if size > settings.max_event_bytes:
        raise EventRejectedError("oversized", f"payload is {size} bytes, limit {settings.max_event_bytes}")

    # Imported on the first event that gets this far: pydantic is most of the handler's import time.
    import trigger_models

    parsed = trigger_models.validate(event)
    account, region = parsed.account, parsed.region
    forwarded = parsed.source == ALARM_SOURCE and (account, region) in settings.alarm_sources
    if account != settings.expected_account and not forwarded:
        raise EventRejectedError(
            "wrong-account",
            f"account {account[:16]!r} is not {settings.expected_account}",
        )
    if region != settings.expected_region and not forwarded:
        raise EventRejectedError("wrong-region", f"region {region[:32]!r} is not {settings.expected_region}")
    if isinstance(parsed, trigger_models.AlarmEvent):
        return _alarm(parsed, settings)
    if isinstance(parsed, trigger_models.NewDataEvent):
        return _new_data(parsed, settings)
    return _schedule(parsed, settings)


def _alarm(event: trigger_models.AlarmEvent, settings: Settings) -> AlarmTrigger:
    alarm_name = event.detail.alarmName
    if alarm_name not in settings.alarm_names:
        raise EventRejectedError(
            "alarm-not-for-model",
            f"alarm {alarm_name[:255]!r} does not belong to {settings.model_name}",
        )
    state = event.detail.state.value
    if state != "ALARM":
        raise EventRejectedError(
            "alarm-not-firing",
            f"alarm {alarm_name[:255]!r} changed to {state[:32]!r}, not ALARM",
        )
    return AlarmTrigger(event_id=event.id, event_time=event.time, alarm_name=alarm_name)


def _new_data(event: trigger_models.NewDataEvent, settings: Settings) -> NewDataTrigger:
    bucket = event.detail.bucket.name
    if bucket != settings.data_bucket:
        raise EventRejectedError(
            "bucket-not-for-model",
            f"bucket {bucket[:63]!r} is not {settings.data_bucket}",
        )
    key = event.detail.object.key
    if not key.startswith(settings.data_prefix):
        raise EventRejectedError("key-outside-prefix", f"key is not under {settings.data_prefix!r}")
    if key.endswith("/"):
        raise EventRejectedError("not-a-data-object", "key is a folder marker")
    return NewDataTrigger(event_id=event.id, event_time=event.time, key=key, size=event.detail.object.size)


def _schedule(event: trigger_models.ScheduleEvent, settings: Settings) -> ScheduleTrigger:
    model, environment = event.detail.model, event.detail.environment
    if model != settings.model_name or environment != settings.environment_name:
        raise EventRejectedError(
            "schedule-not-for-model",
            f"schedule is for {model[:64]!r}/{environment[:64]!r}, "
            f"not {settings.model_name}/{settings.environment_name}",
        )
    return ScheduleTrigger(event_id=event.id, event_time=event.time, schedule=event.detail.schedule)
