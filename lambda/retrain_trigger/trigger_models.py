"""The three trigger events as pydantic models: Powertools' parser models, made strict where they are lax.

Powertools' ``EventBridgeModel`` (the EventBridge envelope) and ``S3EventNotificationEventBridgeDetailModel`` (the
detail of an S3 event delivered through EventBridge) describe the events the trigger reads, but they validate in
pydantic's lax mode: an object size may arrive as ``"2048"`` or ``true``, a time as a number of seconds, and
``detail_type`` is accepted for ``detail-type``. Pydantic's strict mode, model-wide, refuses the ISO 8601 strings
that EventBridge sends for ``time``. So each field the trigger reads is made strict on its own (``StrictStr``,
``StrictInt``, a strict ``dict``), ``time`` must be an RFC 3339 string with a UTC offset (EventBridge's ``time`` is
RFC 3339, PutEventsRequestEntry in the EventBridge API Reference), and every rule on one field raises a
``PydanticCustomError`` whose type is the stable rejection code.

Field shapes follow the EventBridge event structure reference (``version``, ``id``, ``detail-type``, ``source``,
``account``, ``time``, ``region``, ``resources``, ``detail``) and Amazon S3's "EventBridge event message structure"
(``detail.bucket.name``, ``detail.object.key``/``size``, ``request-id``, ``requester``). The Scheduler payload is the
project's own (``mlops_constructs/retraining.py``), EventBridge-shaped on purpose.

This module is imported on the first event, not at cold start: pydantic is most of the handler's import time, and
a record rejected before parsing (not from SQS, not JSON) never needs it. Whether an event is for *this* model
(account, region, alarm, bucket, prefix, schedule) is ``trigger_events``' business, not the models'.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final, cast

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.parser.models.s3 import (
    S3EventNotificationEventBridgeBucketModel,
    S3EventNotificationEventBridgeDetailModel,
    S3EventNotificationObjectModel,
)
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from trigger_events import (
    ALARM_SOURCE,
    DETAIL_TYPES,
    S3_SOURCE,
    SCHEDULER_SOURCE,
    EventRejectedError,
)

_EVENT_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_SCHEDULE_NAME: Final = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
# The rejection codes a validator here may raise (any other pydantic error is a wrong type or value: "bad-field").
_CUSTOM_CODES: Final = frozenset({"unknown-source", "wrong-detail-type", "bad-event-id", "bad-time", "bad-field"})
# The order an envelope is judged in, the first failing field naming the rejection: which source, what kind of event,
# which event, from where, when; then the envelope's other members; what the event says comes last.
_PRECEDENCE: Final = (
    "source",
    "detail-type",
    "id",
    "account",
    "region",
    "time",
    "version",
    "resources",
    "replay-name",
    "detail",
)


def _event_id(value: str) -> str:
    if not _EVENT_ID.fullmatch(value):
        raise PydanticCustomError("bad-event-id", "id must be 1-128 of [A-Za-z0-9._:-]")
    return value


def _known_source(value: str) -> str:
    if value not in DETAIL_TYPES:
        raise PydanticCustomError(
            "unknown-source", "source {source} is not a retraining trigger", {"source": repr(value[:64])}
        )
    return value


def _rfc3339(value: object) -> object:
    # Anything but a string is left to the strict datetime check below, which refuses it (a number of seconds too).
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("bad-time", "time {time} is not ISO 8601", {"time": repr(value[:40])}) from None
    if parsed.tzinfo is None:
        # RFC 3339 requires the offset; EventBridge and Scheduler send UTC with a Z. A local time is a guess.
        raise PydanticCustomError("bad-time", "time {time} has no UTC offset", {"time": repr(value[:40])})
    return parsed


def _schedule_name(value: str) -> str:
    if not _SCHEDULE_NAME.fullmatch(value):
        raise PydanticCustomError("bad-field", "detail.schedule must be 1-64 of [0-9A-Za-z_.-]")
    return value


EventTime = Annotated[datetime, Strict(), BeforeValidator(_rfc3339)]
StrictObject = Annotated[dict[str, Any], Strict()]


class TriggerEnvelope(EventBridgeModel):
    """Powertools' EventBridge envelope with every member strict, the source one of the three triggers."""

    # Only the wire names: Powertools' model would also take ``detail_type`` for ``detail-type``.
    model_config = ConfigDict(populate_by_name=False)

    version: StrictStr
    id: Annotated[StrictStr, AfterValidator(_event_id)]
    source: Annotated[StrictStr, AfterValidator(_known_source)]
    account: StrictStr
    time: EventTime
    region: StrictStr
    resources: list[StrictStr]
    detail_type: StrictStr = Field(alias="detail-type")
    detail: StrictObject
    replay_name: StrictStr | None = Field(None, alias="replay-name")

    @field_validator("detail_type")
    @classmethod
    def _detail_type_of_source(cls, value: str, info: ValidationInfo) -> str:
        # ``source`` is validated first (field order); when it failed, its own error names the rejection.
        expected = DETAIL_TYPES.get(info.data.get("source", ""))
        if expected is not None and value != expected:
            raise PydanticCustomError(
                "wrong-detail-type",
                "{source} event has detail-type {detail_type}, expected {expected}",
                {"source": info.data["source"], "detail_type": repr(value[:64]), "expected": repr(expected)},
            )
        return value


class AlarmState(BaseModel):
    """``detail.state`` of a CloudWatch alarm state change."""

    value: StrictStr


class AlarmDetail(BaseModel):
    """The members of a CloudWatch "Alarm State Change" detail the trigger reads."""

    alarmName: StrictStr  # noqa: N815 (the wire name)
    state: AlarmState


class AlarmEvent(TriggerEnvelope):
    """A CloudWatch alarm state change, as EventBridge delivers it."""

    detail: AlarmDetail  # type: ignore[assignment]


class NewDataBucket(S3EventNotificationEventBridgeBucketModel):
    """Powertools' bucket model, the name strict."""

    name: StrictStr


class NewDataObject(S3EventNotificationObjectModel):
    """Powertools' object model, with the size a whole, non-negative number (Powertools: any float, or a string)."""

    key: StrictStr
    # EventBridge omits nothing here for Object Created, but a missing size reads as 0, as it always has.
    size: StrictInt = Field(0, ge=0)  # type: ignore[assignment]
    etag: StrictStr = ""
    version_id: StrictStr | None = Field(None, alias="version-id")
    sequencer: StrictStr | None = None


class NewDataDetail(S3EventNotificationEventBridgeDetailModel):
    """Powertools' detail of an S3 event through EventBridge, the members the trigger reads strict."""

    model_config = ConfigDict(populate_by_name=False)

    version: StrictStr
    bucket: NewDataBucket
    object: NewDataObject
    request_id: StrictStr = Field(alias="request-id")
    requester: StrictStr


class NewDataEvent(TriggerEnvelope):
    """An S3 "Object Created" event, as EventBridge delivers it (Powertools' S3EventNotificationEventBridgeModel)."""

    detail: NewDataDetail  # type: ignore[assignment]


class ScheduleDetail(BaseModel):
    """The detail of the project's Scheduler payload."""

    model: StrictStr
    environment: StrictStr
    schedule: Annotated[StrictStr, AfterValidator(_schedule_name)]


class ScheduleEvent(TriggerEnvelope):
    """The retraining schedule's EventBridge-shaped payload."""

    detail: ScheduleDetail  # type: ignore[assignment]


_EVENT_MODELS: Final[dict[str, type[TriggerEnvelope]]] = {
    ALARM_SOURCE: AlarmEvent,
    S3_SOURCE: NewDataEvent,
    SCHEDULER_SOURCE: ScheduleEvent,
}

TriggerEvent = AlarmEvent | NewDataEvent | ScheduleEvent


def validate(event: dict[str, Any]) -> TriggerEvent:
    """``event`` as the model of its source, or ``EventRejectedError`` naming the first failing field."""
    source = event.get("source")
    # An unknown, missing or mistyped source gets the bare envelope, whose own check names the rejection.
    model = _EVENT_MODELS.get(source, TriggerEnvelope) if isinstance(source, str) else TriggerEnvelope
    try:
        parsed = model.model_validate(event)
    except ValidationError as error:
        raise rejection(error) from None
    # The bare envelope never passes (its source check fails), so ``parsed`` is one of the three.
    return cast(TriggerEvent, parsed)


def _rank(location: tuple[int | str, ...]) -> int:
    head = str(location[0]) if location else ""
    return _PRECEDENCE.index(head) if head in _PRECEDENCE else len(_PRECEDENCE)


def rejection(error: ValidationError) -> EventRejectedError:
    """The one rejection a validation error stands for: its first failing field by ``_PRECEDENCE``."""
    # ``min`` keeps the first of equals: within ``detail``, pydantic's own (field) order.
    first = min(error.errors(include_url=False), key=lambda item: _rank(item["loc"]))
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "missing":
        return EventRejectedError("missing-field", f"{where} is missing")
    if first["type"] in _CUSTOM_CODES:
        return EventRejectedError(first["type"], first["msg"])
    return EventRejectedError("bad-field", f"{where}: {first['msg']} (got {type(first['input']).__name__})")
