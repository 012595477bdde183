"""Retrain trigger: the strict event models (``trigger_models.py``), their exact rejections and what they accept.

The handler-level treatment of each bad input (one log line, no AWS call, the record consumed) is in
``test_retrain_trigger_rejections.py``; here ``retrain.parse_event`` is called directly to pin the detail an operator
reads, and the inputs the models must keep accepting.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import retrain
import trigger_models
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.parser.models.s3 import S3EventNotificationEventBridgeDetailModel

from tests.lambda_.conftest import RETRAIN_TRIGGER_DIR

Event = dict[str, Any]


@pytest.fixture
def settings(retrain_env: dict[str, str]) -> retrain.Settings:
    return retrain.Settings.from_env(retrain_env)


@pytest.fixture
def events(load_event: Callable[[str], Event]) -> dict[str, Event]:
    return {
        "alarm": load_event("alarm_state_change"),
        "s3": load_event("s3_object_created"),
        "schedule": load_event("scheduled_retrain"),
    }


def _rejected(event: object, settings: retrain.Settings) -> tuple[str, str]:
    with pytest.raises(retrain.EventRejectedError) as caught:
        retrain.parse_event(event, settings)
    return caught.value.code, caught.value.detail


def _edit(event: Event, path: str, value: object) -> Event:
    edited = copy.deepcopy(event)
    *parents, leaf = path.split(".")
    node = edited
    for part in parents:
        node = node[part]
    node[leaf] = value
    return edited


def _drop(event: Event, path: str) -> Event:
    edited = copy.deepcopy(event)
    *parents, leaf = path.split(".")
    node = edited
    for part in parents:
        node = node[part]
    del node[leaf]
    return edited


# (event, dotted field, value, expected code, expected detail)
EXACT: list[tuple[str, str, object, str, str]] = [
    ("alarm", "source", "aws.ec2", "unknown-source", "source 'aws.ec2' is not a retraining trigger"),
    ("alarm", "source", "x" * 100, "unknown-source", f"source {'x' * 64!r} is not a retraining trigger"),
    ("alarm", "source", True, "bad-field", "source: Input should be a valid string (got bool)"),
    (
        "alarm",
        "detail-type",
        "Object Created",
        "wrong-detail-type",
        "aws.cloudwatch event has detail-type 'Object Created', expected 'CloudWatch Alarm State Change'",
    ),
    (
        "s3",
        "detail-type",
        "y" * 100,
        "wrong-detail-type",
        f"aws.s3 event has detail-type {'y' * 64!r}, expected 'Object Created'",
    ),
    ("alarm", "id", "a b", "bad-event-id", "id must be 1-128 of [A-Za-z0-9._:-]"),
    ("alarm", "id", "a" * 128, "", ""),  # the longest id is accepted
    ("alarm", "id", 7, "bad-field", "id: Input should be a valid string (got int)"),
    ("alarm", "account", True, "bad-field", "account: Input should be a valid string (got bool)"),
    ("alarm", "time", "yesterday", "bad-time", "time 'yesterday' is not ISO 8601"),
    ("alarm", "time", "2" * 60, "bad-time", f"time {'2' * 40!r} is not ISO 8601"),
    ("alarm", "time", "2025-06-02T17:04:40", "bad-time", "time '2025-06-02T17:04:40' has no UTC offset"),
    ("alarm", "time", 1748883880, "bad-field", "time: Input should be a valid datetime (got int)"),
    ("alarm", "time", None, "bad-field", "time: Input should be a valid datetime (got NoneType)"),
    (
        "alarm",
        "detail",
        [1],
        "bad-field",
        "detail: Input should be a valid dictionary or instance of AlarmDetail (got list)",
    ),
    ("alarm", "detail.state.value", True, "bad-field", "detail.state.value: Input should be a valid string (got bool)"),
    ("s3", "detail.object.size", "2048", "bad-field", "detail.object.size: Input should be a valid integer (got str)"),
    ("s3", "detail.object.size", True, "bad-field", "detail.object.size: Input should be a valid integer (got bool)"),
    (
        "s3",
        "detail.object.size",
        -1,
        "bad-field",
        "detail.object.size: Input should be greater than or equal to 0 (got int)",
    ),
    ("s3", "detail.object.size", 0, "", ""),  # an empty object is data
    ("schedule", "detail.schedule", "x y", "bad-field", "detail.schedule must be 1-64 of [0-9A-Za-z_.-]"),
    ("schedule", "detail.schedule", "s" * 64, "", ""),  # the longest schedule name is accepted
    ("schedule", "detail.schedule", "s" * 65, "bad-field", "detail.schedule must be 1-64 of [0-9A-Za-z_.-]"),
]


@pytest.mark.parametrize(
    ("base", "path", "value", "code", "detail"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{str(case[2])[:20]}") for case in EXACT],
)
def test_each_bad_field_gets_its_exact_rejection(
    *, base: str, path: str, value: object, code: str, detail: str, events: dict[str, Event], settings: retrain.Settings
) -> None:
    event = _edit(events[base], path, value)

    if not code:
        assert retrain.parse_event(event, settings).event_id == event["id"]
        return
    assert _rejected(event, settings) == (code, detail)


@pytest.mark.parametrize(
    ("base", "path", "detail"),
    [
        ("alarm", "source", "source is missing"),
        ("alarm", "version", "version is missing"),
        ("alarm", "detail.state", "detail.state is missing"),
        ("s3", "detail.object.key", "detail.object.key is missing"),
        ("s3", "detail.request-id", "detail.request-id is missing"),
        ("schedule", "detail.environment", "detail.environment is missing"),
    ],
)
def test_a_missing_field_is_named_by_its_wire_path(
    base: str, path: str, detail: str, events: dict[str, Event], settings: retrain.Settings
) -> None:
    assert _rejected(_drop(events[base], path), settings) == ("missing-field", detail)


def test_the_envelope_order_picks_the_rejection_among_several_faults(
    events: dict[str, Event], settings: retrain.Settings
) -> None:
    every_fault = copy.deepcopy(events["alarm"])
    every_fault.update(
        {"detail-type": "x", "id": "a b", "account": 1, "region": 2, "time": "t", "version": 3, "resources": 4}
    )
    every_fault["detail"] = []
    expected = [
        ("detail-type", "wrong-detail-type"),
        ("id", "bad-event-id"),
        ("account", "bad-field"),
        ("region", "bad-field"),
        ("time", "bad-time"),
        ("version", "bad-field"),
        ("resources", "bad-field"),
        ("detail", "bad-field"),
    ]
    for field, code in expected:
        assert _rejected(every_fault, settings)[0] == code, field
        every_fault[field] = events["alarm"][field]  # mend this fault: the next one names the rejection

    assert retrain.parse_event(every_fault, settings).event_id == events["alarm"]["id"]


def test_the_shape_is_checked_before_the_account(events: dict[str, Event], settings: retrain.Settings) -> None:
    event = _edit(_edit(events["alarm"], "account", "999999999999"), "detail.alarmName", None)

    assert _rejected(event, settings) == (
        "bad-field",
        "detail.alarmName: Input should be a valid string (got NoneType)",
    )


def test_a_time_with_an_offset_is_the_same_instant(events: dict[str, Event], settings: retrain.Settings) -> None:
    event = _edit(events["alarm"], "time", "2025-06-02T19:04:40+02:00")

    trigger = retrain.parse_event(event, settings)

    assert trigger.event_time == datetime(2025, 6, 2, 17, 4, 40, tzinfo=UTC)
    assert trigger.event_time.utcoffset() == timedelta(hours=2)
    assert trigger.event_time.tzinfo == timezone(timedelta(hours=2))


def test_eventbridge_times_parse_to_utc(events: dict[str, Event], settings: retrain.Settings) -> None:
    schedule = retrain.parse_event(events["schedule"], settings)

    assert schedule.event_time == datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    assert schedule.dedup_key == "mlops.scheduler|churn-dev-weekly-retrain|2025-06-01T02:00:00+00:00"


def test_what_the_models_keep_accepting(events: dict[str, Event], settings: retrain.Settings) -> None:
    # A missing size reads as 0; members the trigger does not read are ignored; a replayed event is still an event.
    s3 = _drop(events["s3"], "detail.object.size")
    s3["detail"]["object"]["checksum"] = {"algorithm": "CRC64NVME"}
    s3["detail"]["event-version"] = "1.1"
    alarm = _edit(events["alarm"], "replay-name", "nightly-replay")

    new_data = retrain.parse_event(s3, settings)
    assert isinstance(new_data, retrain.NewDataTrigger)
    assert (new_data.key, new_data.size) == ("churn/training/2025/06/02/part-0001.csv", 0)
    assert isinstance(retrain.parse_event(alarm, settings), retrain.AlarmTrigger)
    assert isinstance(retrain.parse_event(_edit(events["alarm"], "replay-name", None), settings), retrain.AlarmTrigger)


def test_the_models_are_powertools_models_made_strict() -> None:
    # The trigger's models extend Powertools' parser models (the brief of issue 14: libraries over hand checks).
    assert issubclass(trigger_models.TriggerEnvelope, EventBridgeModel)
    assert issubclass(trigger_models.NewDataDetail, S3EventNotificationEventBridgeDetailModel)
    # ...and differ from them exactly where Powertools is lax: its own model takes the string size and the epoch.
    lax = EventBridgeModel.model_validate({**_LAX_EVENT, "time": 1748883880})
    assert lax.time == datetime(2025, 6, 2, 17, 4, 40, tzinfo=UTC)
    assert S3EventNotificationEventBridgeDetailModel.model_validate(_LAX_S3_DETAIL).object.size == 2048.0


_LAX_EVENT: Event = {
    "version": "0",
    "id": "1",
    "source": "aws.s3",
    "account": "123456789012",
    "region": "eu-west-1",
    "resources": [],
    "detail-type": "Object Created",
    "detail": {},
}
_LAX_S3_DETAIL: Event = {
    "version": "0",
    "bucket": {"name": "b"},
    "object": {"key": "k", "size": "2048"},
    "request-id": "r",
    "requester": "123456789012",
}


def test_pydantic_is_imported_on_the_first_event_not_at_cold_start(retrain_env: dict[str, str]) -> None:
    # Cold start (importing the handler) stays light; the first event that reaches parse_event loads the models.
    code = (
        "import json, sys; import handler, retrain; before = 'pydantic' in sys.modules; "
        "event = json.load(open(sys.argv[1])); retrain.parse_event(event, handler.SETTINGS); "
        "print(json.dumps([before, 'pydantic' in sys.modules, 'trigger_models' in sys.modules]))"
    )
    event_file = RETRAIN_TRIGGER_DIR.parents[1] / "tests" / "lambda_" / "events" / "alarm_state_change.json"
    env = {**os.environ, **retrain_env, "PYTHONPATH": str(RETRAIN_TRIGGER_DIR)}

    completed = subprocess.run(
        [sys.executable, "-c", code, str(event_file)], env=env, capture_output=True, text=True, check=True, timeout=60
    )

    assert json.loads(completed.stdout.strip().splitlines()[-1]) == [False, True, True]


# (event, dotted field, value, expected code, expected detail): whether a well-formed event is for this model.
POLICY: list[tuple[str, str, object, str, str]] = [
    ("alarm", "account", "9" * 20, "wrong-account", f"account {'9' * 16!r} is not 123456789012"),
    ("alarm", "region", "r" * 40, "wrong-region", f"region {'r' * 32!r} is not eu-west-1"),
    (
        "alarm",
        "detail.alarmName",
        "a" * 300,
        "alarm-not-for-model",
        f"alarm {'a' * 255!r} does not belong to churn",
    ),
    (
        "alarm",
        "detail.state.value",
        "S" * 40,
        "alarm-not-firing",
        f"alarm 'churn-dev-feature-drift' changed to {'S' * 32!r}, not ALARM",
    ),
    (
        "s3",
        "detail.bucket.name",
        "b" * 70,
        "bucket-not-for-model",
        f"bucket {'b' * 63!r} is not mlops-dev-training-data",
    ),
    ("s3", "detail.object.key", "fraud/x.csv", "key-outside-prefix", "key is not under 'churn/training/'"),
    ("s3", "detail.object.key", "churn/training/2025/", "not-a-data-object", "key is a folder marker"),
    (
        "schedule",
        "detail.model",
        "m" * 70,
        "schedule-not-for-model",
        f"schedule is for {'m' * 64!r}/'dev', not churn/dev",
    ),
    (
        "schedule",
        "detail.environment",
        "e" * 70,
        "schedule-not-for-model",
        f"schedule is for 'churn'/{'e' * 64!r}, not churn/dev",
    ),
]


@pytest.mark.parametrize(
    ("base", "path", "value", "code", "detail"),
    [pytest.param(*case, id=f"{case[3]}-{case[1]}") for case in POLICY],
)
def test_an_event_for_another_model_gets_its_exact_rejection(
    *,
    base: str,
    path: str,
    value: object,
    code: str,
    detail: str,
    events: dict[str, Event],
    settings: retrain.Settings,
) -> None:
    assert _rejected(_edit(events[base], path, value), settings) == (code, detail)


def test_the_outcome_log_line_names_the_trigger_and_its_reason(
    events: dict[str, Event], settings: retrain.Settings
) -> None:
    trigger = retrain.parse_event(events["alarm"], settings)
    outcome = retrain.Outcome(
        status="started", code="started", detail="d", trigger_reason="alarm:churn-dev-feature-drift", execution_arn="a"
    )

    assert outcome.log_fields(trigger) == {
        "outcome": "started",
        "reason": "started",
        "detail": "d",
        "trigger": "AlarmTrigger",
        "source_event_id": events["alarm"]["id"],
        "trigger_reason": "alarm:churn-dev-feature-drift",
        "execution_arn": "a",
    }


def test_the_display_name_keeps_capitals_and_squeezes_the_rest(
    events: dict[str, Event], settings: retrain.Settings
) -> None:
    trigger = retrain.parse_event(events["alarm"], settings)
    tag = retrain.event_tag(trigger, settings)

    assert retrain.display_name(trigger, settings, subject="Drift: AUC/F1") == f"alarm-Drift-AUC-F1-{tag}"
