"""The SQS record checks of the retrain trigger, with the exact reason and detail each rejection logs.

Found by `make mutate-lambda FN=retrain_trigger MUTATE='queue_records.*'`: the hostile-record tests asserted the
reason codes, not the details an operator reads, nor the size limit's boundary.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import queue_records
import retrain
from trigger_events import EventRejectedError

from tests.lambda_.conftest import ACCOUNT, REGION, TRIGGER_QUEUE_ARN


@pytest.fixture
def settings(retrain_env: dict[str, str]) -> Any:
    return retrain.Settings.from_env(retrain_env)


def _record(**fields: Any) -> dict[str, Any]:
    return {"messageId": "m-1", "eventSource": "aws:sqs", "eventSourceARN": TRIGGER_QUEUE_ARN, "body": "{}", **fields}


@pytest.mark.parametrize(
    ("event", "code", "detail"),
    [
        (["Records"], "not-an-sqs-batch", "payload is not an SQS event (no Records list)"),
        ({"Records": []}, "not-an-sqs-batch", "payload is not an SQS event (no Records list)"),
        ({"Records": [{"messageId": "a"}, {"messageId": ""}]}, "bad-sqs-record", "Records[1] has no messageId"),
    ],
)
def test_a_batch_that_is_not_sqs_records_is_rejected_exactly(event: object, code: str, detail: str) -> None:
    with pytest.raises(EventRejectedError) as caught:
        queue_records.check_batch(event)
    assert (caught.value.code, caught.value.detail) == (code, detail)


@pytest.mark.parametrize(
    ("fields", "code", "detail"),
    [
        ({"eventSource": "aws:kinesis"}, "not-from-sqs", "eventSource 'aws:kinesis' is not aws:sqs"),
        ({"eventSource": "s" * 40}, "not-from-sqs", f"eventSource {'s' * 32!r} is not aws:sqs"),
        (
            {"eventSourceARN": 12},
            "queue-not-for-model",
            f"eventSourceARN '12' is not a queue of {ACCOUNT} in {REGION}",
        ),
        (
            {"eventSourceARN": "q" * 200},
            "queue-not-for-model",
            f"eventSourceARN {'q' * 128!r} is not a queue of {ACCOUNT} in {REGION}",
        ),
        ({"body": {"a": 1}}, "bad-sqs-record", "body is a dict, not a string"),
        ({"body": "{"}, "not-json", "body is not plain JSON: JSONDecodeError"),
        ({"body": '{"a": NaN}'}, "not-json", "body is not plain JSON: ValueError"),
    ],
)
def test_a_record_is_rejected_with_its_exact_detail(
    settings: Any, fields: dict[str, Any], code: str, detail: str
) -> None:
    with pytest.raises(EventRejectedError) as caught:
        queue_records.trigger_event(_record(**fields), settings)
    assert (caught.value.code, caught.value.detail) == (code, detail)


def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_not(settings: Any) -> None:
    body = '{"k": "' + "x" * 20 + '"}'
    at_limit = dataclasses.replace(settings, max_event_bytes=len(body))
    assert queue_records.trigger_event(_record(body=body), at_limit) == {"k": "x" * 20}
    below = dataclasses.replace(settings, max_event_bytes=len(body) - 1)
    with pytest.raises(EventRejectedError) as caught:
        queue_records.trigger_event(_record(body=body), below)
    assert (caught.value.code, caught.value.detail) == (
        "oversized",
        f"payload is {len(body)} bytes, limit {len(body) - 1}",
    )
