"""Retrain trigger: ``parse_event``'s own rejections, exact (code and detail), and the size limit's boundary.

Written against the survivors of ``make mutate-lambda FN=retrain_trigger MUTATE='trigger_events.x_parse_event*'``
(README, "Development"): the tests named the code of a payload that is not an object, not plain JSON or oversized,
but never the detail an operator reads, nor the limit's exact boundary (counted in UTF-8 bytes, not characters or
``\\u`` escapes). Each rejection is checked to start nothing: it happens before any AWS call.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
import retrain

from tests.lambda_.conftest import Invoke

Event = dict[str, Any]
LIMIT = 65536  # MAX_EVENT_BYTES' default


@pytest.fixture
def settings(retrain_env: dict[str, str]) -> retrain.Settings:
    return retrain.Settings.from_env(retrain_env)


@pytest.fixture
def alarm(load_event: Callable[[str], Event]) -> Event:
    return load_event("alarm_state_change")


def _rejected(event: object, settings: retrain.Settings) -> tuple[str, str]:
    with pytest.raises(retrain.EventRejectedError) as caught:
        retrain.parse_event(event, settings)
    return caught.value.code, caught.value.detail


def _circular() -> Event:
    event: Event = {"source": "aws.cloudwatch"}
    event["detail"] = event
    return event


def _deep() -> Event:
    event: Event = {}
    node = event
    for _ in range(100_000):
        node["x"] = {}
        node = node["x"]
    return event


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ([{"source": "aws.cloudwatch"}], "payload is a list, not a JSON object"),
        ("retrain please", "payload is a str, not a JSON object"),
        (None, "payload is a NoneType, not a JSON object"),
        (42, "payload is a int, not a JSON object"),
    ],
    ids=["list", "str", "none", "int"],
)
def test_a_payload_that_is_not_an_object_is_named_by_its_type(
    payload: object, detail: str, settings: retrain.Settings
) -> None:
    assert _rejected(payload, settings) == ("not-an-object", detail)


@pytest.mark.parametrize(
    ("build", "detail"),
    [
        (lambda: {"source": "aws.cloudwatch", "detail": {"ids": {1, 2}}}, "payload is not plain JSON: TypeError"),
        (_circular, "payload is not plain JSON: ValueError"),
        (_deep, "payload is not plain JSON: RecursionError"),
    ],
    ids=["set", "circular", "deep"],
)
def test_a_payload_that_is_not_plain_json_is_named_by_its_error(
    build: Callable[[], Event], detail: str, settings: retrain.Settings
) -> None:
    assert _rejected(build(), settings) == ("not-json", detail)


def _of_size(alarm: Event, size: int) -> Event:
    """The alarm event padded, in two-byte UTF-8 characters, to exactly ``size`` bytes as ``parse_event`` counts.

    Counted as characters, or with ``\\u00e9`` escapes, the same event would be about half, or three times, as long.
    """
    event = copy.deepcopy(alarm)
    event["detail"]["configuration"]["description"] = ""
    base = len(json.dumps(event, ensure_ascii=False).encode("utf-8"))
    missing = size - base
    event["detail"]["configuration"]["description"] = "\u00e9" * (missing // 2) + "a" * (missing % 2)
    assert len(json.dumps(event, ensure_ascii=False).encode("utf-8")) == size
    return event


def test_a_payload_of_exactly_the_limit_is_parsed(alarm: Event, settings: retrain.Settings) -> None:
    assert settings.max_event_bytes == LIMIT

    trigger = retrain.parse_event(_of_size(alarm, LIMIT), settings)

    assert trigger == retrain.AlarmTrigger(
        event_id=alarm["id"],
        event_time=trigger.event_time,
        alarm_name="churn-dev-feature-drift",
    )
    assert trigger.event_time.isoformat() == "2025-06-02T17:04:40+00:00"


def test_one_byte_over_the_limit_is_oversized_with_the_count(alarm: Event, settings: retrain.Settings) -> None:
    event = _of_size(alarm, LIMIT + 1)
    # Fewer characters than the limit: only a count in UTF-8 bytes refuses it.
    assert len(json.dumps(event, ensure_ascii=False)) < LIMIT

    assert _rejected(event, settings) == ("oversized", f"payload is {LIMIT + 1} bytes, limit {LIMIT}")


def test_a_non_object_body_is_logged_with_its_detail_and_starts_nothing(
    *,
    moto_aws: None,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    invoke: Invoke,
    read_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    """Through the queue: the record is consumed, one warning carries code and detail, no AWS API is called."""
    handler = load_handler(retrain_env)
    calls: list[str] = []
    clients = handler.aws_clients()
    for client in (clients.sagemaker, clients.s3):
        client.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    read_logs()

    result = invoke(handler, body='["retrain", "please"]')

    assert result == {"status": "rejected", "code": "not-an-object", "detail": "payload is a list, not a JSON object"}
    assert calls == []
    (record,) = read_logs()
    assert (record["level"], record["message"], record["reason"], record["detail"], record["event_excerpt"]) == (
        "WARNING",
        "retrain trigger rejected",
        "not-an-object",
        "payload is a list, not a JSON object",
        '"[\\"retrain\\", \\"please\\"]"',
    )
