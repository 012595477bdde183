"""The SQS FIFO records the retrain trigger reads: checked, then unwrapped into the trigger event each body holds.

Every trigger (EventBridge rules, the Scheduler schedule) sends its EventBridge-shaped event as the body of one
message in the pipeline's message group. A record that is not from SQS in this account and region, or whose body is
not one bounded, plain JSON value, is rejected here before ``retrain.parse_event`` sees it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from trigger_events import EventRejectedError
from trigger_settings import Settings

SQS_EVENT_SOURCE: Final = "aws:sqs"


def check_batch(event: object) -> list[Mapping[str, Any]]:
    """The records of an SQS event source mapping invocation, or ``EventRejectedError`` for anything else.

    Each record must carry a ``messageId``: it is what a partial batch response names.
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        raise EventRejectedError("not-an-sqs-batch", "payload is not an SQS event (no Records list)")
    for index, record in enumerate(records):
        if not isinstance(record, Mapping) or not isinstance(record.get("messageId"), str) or not record["messageId"]:
            raise EventRejectedError("bad-sqs-record", f"Records[{index}] has no messageId")
    return records


def trigger_event(record: Mapping[str, Any], settings: Settings) -> object:
    """The JSON value in ``record``'s body, after checking where the record comes from and the body's size.

    The value is not validated as a trigger here: ``retrain.parse_event`` does that.
    """
    source = record.get("eventSource")
    if source != SQS_EVENT_SOURCE:
        raise EventRejectedError("not-from-sqs", f"eventSource {str(source)[:32]!r} is not {SQS_EVENT_SOURCE}")
    queue_arn = record.get("eventSourceARN")
    parts = queue_arn.split(":") if isinstance(queue_arn, str) else []
    # arn:<partition>:sqs:<region>:<account>:<queue name>
    if (
        len(parts) != 6
        or parts[2] != "sqs"
        or (parts[3], parts[4])
        != (
            settings.expected_region,
            settings.expected_account,
        )
    ):
        raise EventRejectedError(
            "queue-not-for-model",
            f"eventSourceARN {str(queue_arn)[:128]!r} is not a queue of {settings.expected_account} "
            f"in {settings.expected_region}",
        )
    body = record.get("body")
    if not isinstance(body, str):
        raise EventRejectedError("bad-sqs-record", f"body is a {type(body).__name__}, not a string")
    size = len(body.encode("utf-8"))
    if size > settings.max_event_bytes:
        raise EventRejectedError("oversized", f"payload is {size} bytes, limit {settings.max_event_bytes}")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise EventRejectedError("not-json", f"body is not plain JSON: {type(exc).__name__}") from None


def _reject_constant(name: str) -> object:
    # NaN and Infinity are Python's extensions to JSON; no AWS service sends them.
    raise ValueError(f"{name} is not JSON")
