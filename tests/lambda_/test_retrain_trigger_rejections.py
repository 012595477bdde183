"""Retrain trigger: bad or hostile inputs are rejected with one log line and no AWS call at all.

Each input reaches the handler as SQS sends it: as the body of a record of the FIFO trigger queue (bad SQS records
themselves are in ``test_retrain_trigger_queue.py``). A rejected record is consumed: the partial batch response
names no failure, so it is not retried and does not hold up the message group.

Proof of "no mutating call": a botocore ``before-call`` hook on the handler's own clients records
every API call (none is allowed), and moto still shows zero executions afterwards.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from tests.lambda_.conftest import Invoke, create_data_bucket, create_training_pipeline

Event = dict[str, Any]
Events = dict[str, Event]


# One moto for the whole module: no test here may change AWS state, and each checks that none did, so they can
# share it (starting moto and creating the pipeline per case was most of this module's time).
@pytest.fixture(scope="module")
def moto_aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture(scope="module")
def training_pipeline(moto_aws: None) -> str:
    return create_training_pipeline()


@pytest.fixture(scope="module")
def data_bucket(moto_aws: None) -> Any:
    return create_data_bucket()


def _set(path: str, value: object, base: str = "alarm") -> Callable[[Events], object]:
    """A case that sets one dotted field of a valid event (``None`` deletes it)."""

    def build(events: Events) -> object:
        event = copy.deepcopy(events[base])
        *parents, leaf = path.split(".")
        node = event
        for part in parents:
            node = node[part]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
        return event

    return build


def _null(path: str, base: str = "alarm") -> Callable[[Events], object]:
    """A case that sets one dotted field of a valid event to JSON null (not the same as leaving it out)."""

    def build(events: Events) -> object:
        event = copy.deepcopy(events[base])
        *parents, leaf = path.split(".")
        node = event
        for part in parents:
            node = node[part]
        node[leaf] = None
        return event

    return build


def _renamed(old: str, new: str, base: str = "alarm", parent: str = "") -> Callable[[Events], object]:
    """A case that moves one field of a valid event (top level, or in ``parent``) to another name."""

    def build(events: Events) -> object:
        event = copy.deepcopy(events[base])
        node = event[parent] if parent else event
        node[new] = node.pop(old)
        return event

    return build


def _edited(edit: Callable[[Event], object], base: str = "alarm") -> Callable[[Events], object]:
    """A case that applies several edits to a valid event (two faults at once: which one names the rejection)."""

    def build(events: Events) -> object:
        event = copy.deepcopy(events[base])
        edit(event)
        return event

    return build


def _wrapped_in_detail(events: Events) -> object:
    # A valid alarm envelope whose detail is a whole second event (one level too deep).
    event = copy.deepcopy(events["alarm"])
    event["detail"] = copy.deepcopy(events["alarm"])
    return event


@dataclass(frozen=True)
class RawBody:
    """A message body that is not the JSON rendering of a Python value (SQS bodies are text)."""

    text: str


def _raw(value: object) -> Callable[[Events], object]:
    return lambda _events: value


def _bytes_body(_events: Events) -> object:
    # A body is text: bytes arrive as whatever the sender encoded them to, here base64.
    return RawBody(base64.b64encode(b'{"source": "aws.cloudwatch"}').decode())


def _non_json_value(events: Events) -> object:
    # Python's json module writes NaN for a float NaN; JSON has no such value.
    event = copy.deepcopy(events["alarm"])
    event["detail"]["extra"] = float("nan")
    return RawBody(json.dumps(event))


def _circular(events: Events) -> object:
    # Text cannot refer to itself: the body's analogue of a circular value is one that never closes.
    return RawBody(json.dumps(events["alarm"])[:-20])


def _deeply_nested(events: Events) -> object:
    text = json.dumps(events["alarm"])[:-2] + ', "x": ' + '{"x": ' * 5000 + "{}" + "}" * 5000 + "}}"
    return RawBody(text)


def _oversized(events: Events) -> object:
    event = copy.deepcopy(events["alarm"])
    event["detail"]["configuration"]["description"] = "A" * 70_000
    return event


def _as_json_string(events: Events) -> object:
    return json.dumps(events["alarm"])


# (case id, how to build the input, expected rejection code)
CASES: list[tuple[str, Callable[[Events], object], str]] = [
    ("none", _raw(None), "not-an-object"),
    ("plain-string", _raw("retrain please"), "not-an-object"),
    ("json-string-of-valid-event", _as_json_string, "not-an-object"),
    ("list-of-events", lambda e: [e["alarm"]], "not-an-object"),
    ("bytes", _bytes_body, "not-json"),
    ("empty-object", _raw({}), "missing-field"),
    ("non-json-value", _non_json_value, "not-json"),
    ("circular-reference", _circular, "not-json"),
    ("deeply-nested", _deeply_nested, "not-json"),
    ("oversized-70kb", _oversized, "oversized"),
    ("missing-source", _set("source", None), "missing-field"),
    ("unknown-source", _set("source", "aws.ec2"), "unknown-source"),
    ("spoofed-custom-source", _set("source", "custom.cloudwatch"), "unknown-source"),
    ("source-not-a-string", _set("source", ["aws.cloudwatch"]), "bad-field"),
    ("wrong-detail-type", _set("detail-type", "CloudWatch Alarm Configuration Change"), "wrong-detail-type"),
    ("s3-object-deleted", _set("detail-type", "Object Deleted", "s3"), "wrong-detail-type"),
    ("scheduler-type-on-alarm-source", _set("detail-type", "Scheduled Retrain"), "wrong-detail-type"),
    ("missing-id", _set("id", None), "missing-field"),
    ("id-with-control-chars", _set("id", "abc\ndef"), "bad-event-id"),
    ("id-too-long", _set("id", "a" * 129), "bad-event-id"),
    ("other-account", _set("account", "999999999999"), "wrong-account"),
    ("other-region", _set("region", "us-east-1"), "wrong-region"),
    ("malformed-time", _set("time", "yesterday"), "bad-time"),
    ("detail-is-a-list", _set("detail", ["ALARM"]), "bad-field"),
    ("alarm-of-another-model", _set("detail.alarmName", "fraud-dev-feature-drift"), "alarm-not-for-model"),
    ("alarm-name-case-variant", _set("detail.alarmName", "CHURN-DEV-FEATURE-DRIFT"), "alarm-not-for-model"),
    ("alarm-back-to-ok", _set("detail.state.value", "OK"), "alarm-not-firing"),
    ("alarm-insufficient-data", _set("detail.state.value", "INSUFFICIENT_DATA"), "alarm-not-firing"),
    ("alarm-missing-state", _set("detail.state", None), "missing-field"),
    ("alarm-name-not-a-string", _set("detail.alarmName", 42), "bad-field"),
    ("s3-other-bucket", _set("detail.bucket.name", "someone-elses-bucket", "s3"), "bucket-not-for-model"),
    ("s3-outside-prefix", _set("detail.object.key", "fraud/training/part-1.csv", "s3"), "key-outside-prefix"),
    ("s3-sibling-prefix", _set("detail.object.key", "churn/training-old/x.csv", "s3"), "key-outside-prefix"),
    ("s3-folder-marker", _set("detail.object.key", "churn/training/2025/", "s3"), "not-a-data-object"),
    ("s3-missing-key", _set("detail.object.key", None, "s3"), "missing-field"),
    ("s3-negative-size", _set("detail.object.size", -1, "s3"), "bad-field"),
    ("s3-boolean-size", _set("detail.object.size", True, "s3"), "bad-field"),
    ("schedule-other-model", _set("detail.model", "fraud", "schedule"), "schedule-not-for-model"),
    ("schedule-other-environment", _set("detail.environment", "prod", "schedule"), "schedule-not-for-model"),
    ("schedule-unreplaced-placeholder", _set("id", "<aws.scheduler.execution-id>", "schedule"), "bad-event-id"),
    ("schedule-unreplaced-time", _set("time", "<aws.scheduler.scheduled-time>", "schedule"), "bad-time"),
    ("schedule-name-injection", _set("detail.schedule", "weekly; rm -rf /", "schedule"), "bad-field"),
    # The edges of the strict models (trigger_models.py): Powertools' own models, in pydantic's lax mode, accept
    # several of these (a size "2048" or true, a time as a number of seconds, detail_type for detail-type).
    # A boolean where a string belongs:
    ("id-is-a-boolean", _set("id", True), "bad-field"),
    ("source-is-a-boolean", _set("source", True), "bad-field"),
    ("detail-type-is-a-boolean", _set("detail-type", True), "bad-field"),
    ("account-is-a-boolean", _set("account", True), "bad-field"),
    ("region-is-a-boolean", _set("region", True), "bad-field"),
    ("version-is-a-boolean", _set("version", False), "bad-field"),
    ("alarm-name-is-a-boolean", _set("detail.alarmName", True), "bad-field"),
    ("alarm-state-is-a-boolean", _set("detail.state.value", True), "bad-field"),
    ("s3-bucket-name-is-a-boolean", _set("detail.bucket.name", True, "s3"), "bad-field"),
    ("s3-key-is-a-boolean", _set("detail.object.key", True, "s3"), "bad-field"),
    ("schedule-model-is-a-boolean", _set("detail.model", True, "schedule"), "bad-field"),
    ("schedule-name-is-a-boolean", _set("detail.schedule", False, "schedule"), "bad-field"),
    # Numbers where strings belong, and strings or fractions where whole numbers belong:
    ("account-as-a-number", _set("account", 123456789012), "bad-field"),
    ("id-as-a-number", _set("id", 12345), "bad-field"),
    ("schedule-environment-as-a-number", _set("detail.environment", 1, "schedule"), "bad-field"),
    ("s3-requester-as-a-number", _set("detail.requester", 123456789012, "s3"), "bad-field"),
    ("s3-size-as-a-string", _set("detail.object.size", "2048", "s3"), "bad-field"),
    ("s3-size-as-a-float", _set("detail.object.size", 2048.0, "s3"), "bad-field"),
    ("s3-size-fractional", _set("detail.object.size", 2048.5, "s3"), "bad-field"),
    ("s3-size-null", _null("detail.object.size", "s3"), "bad-field"),
    ("alarm-name-null", _null("detail.alarmName"), "bad-field"),
    ("time-as-epoch-seconds", _set("time", 1748883880), "bad-field"),
    ("time-as-epoch-string", _set("time", "1748883880"), "bad-time"),
    # Times that are not RFC 3339 with an offset:
    ("naive-time", _set("time", "2025-06-02T17:04:40"), "bad-time"),
    ("date-only-time", _set("time", "2025-06-02"), "bad-time"),
    ("impossible-date", _set("time", "2025-02-30T17:04:40Z"), "bad-time"),
    ("empty-time", _set("time", ""), "bad-time"),
    ("time-is-an-object", _set("time", {"iso": "2025-06-02T17:04:40Z"}), "bad-field"),
    # Extra nesting, a level missing, or a member under another name:
    ("alarm-state-value-nested", _set("detail.state.value", {"value": "ALARM"}), "bad-field"),
    ("alarm-state-is-a-string", _set("detail.state", "ALARM"), "bad-field"),
    ("s3-bucket-name-nested", _set("detail.bucket.name", {"name": "mlops-dev-training-data"}, "s3"), "bad-field"),
    ("s3-key-is-a-list", _set("detail.object.key", ["churn/training/x.csv"], "s3"), "bad-field"),
    ("s3-object-is-a-list", _set("detail.object", [{"key": "churn/training/x.csv"}], "s3"), "bad-field"),
    ("event-wrapped-in-its-own-detail", _wrapped_in_detail, "missing-field"),
    ("event-wrapped-in-an-object", lambda e: {"event": e["alarm"]}, "missing-field"),
    ("detail-as-a-json-string", lambda e: {**e["alarm"], "detail": json.dumps(e["alarm"]["detail"])}, "bad-field"),
    ("detail-type-under-python-name", _renamed("detail-type", "detail_type"), "missing-field"),
    ("s3-request-id-under-python-name", _renamed("request-id", "request_id", "s3", "detail"), "missing-field"),
    ("resources-not-a-list", _set("resources", "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x"), "bad-field"),
    ("resources-with-a-number", _set("resources", [1]), "bad-field"),
    ("missing-version", _set("version", None), "missing-field"),
    ("missing-resources", _set("resources", None, "schedule"), "missing-field"),
    ("s3-missing-request-id", _set("detail.request-id", None, "s3"), "missing-field"),
    ("replay-name-is-a-number", _set("replay-name", 1), "bad-field"),
    # Two faults: the envelope's order (source, detail-type, id, account, region, time, ..., detail) picks one.
    ("unknown-source-and-no-id", _edited(lambda e: (e.update(source="aws.ec2"), e.pop("id"))), "unknown-source"),
    ("bad-time-and-no-alarm-name", _edited(lambda e: (e.update(time="x"), e["detail"].pop("alarmName"))), "bad-time"),
    (
        "bad-id-and-wrong-detail-type",
        _edited(lambda e: e.update(id="a b", **{"detail-type": "x"})),
        "wrong-detail-type",
    ),
]


@pytest.mark.parametrize(("build", "code"), [pytest.param(b, c, id=i) for i, b, c in CASES])
def test_bad_input_is_rejected_with_one_log_line_and_no_aws_call(
    *,
    build: Callable[[Events], object],
    code: str,
    training_pipeline: str,
    data_bucket: Any,
    retrain_env: dict[str, str],
    load_handler: Callable[[dict[str, str]], ModuleType],
    load_event: Callable[[str], Event],
    lambda_context: Any,
    invoke: Invoke,
    read_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    handler = load_handler(retrain_env)
    calls: list[str] = []
    clients = handler.aws_clients()
    for client in (clients.sagemaker, clients.s3):
        client.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    events = {
        "alarm": load_event("alarm_state_change"),
        "s3": load_event("s3_object_created"),
        "schedule": load_event("scheduled_retrain"),
    }
    read_logs()  # drop anything logged while setting up

    value = build(events)

    result = invoke(handler, body=value.text if isinstance(value, RawBody) else json.dumps(value))

    assert result["status"] == "rejected"
    assert result["code"] == code
    assert calls == []  # not even a read: rejection happens before any AWS call
    # Positive control: the hook does see calls made through the handler's client.
    summaries = clients.sagemaker.list_pipeline_executions(PipelineName=training_pipeline)
    assert calls == ["ListPipelineExecutions"]
    assert summaries["PipelineExecutionSummaries"] == []
    (record,) = read_logs()
    assert record["level"] == "WARNING"
    assert record["message"] == "retrain trigger rejected"
    assert record["outcome"] == "rejected"
    assert record["reason"] == code
    assert record["detail"] == result["detail"]
    assert isinstance(record["event_excerpt"], str)
    assert 0 < len(record["event_excerpt"]) <= 512 + len("...(truncated)")
    assert "\n" not in record["event_excerpt"]
    assert record["function_name"] == lambda_context.function_name
    assert record["message_id"]  # the SQS message the rejection consumed
