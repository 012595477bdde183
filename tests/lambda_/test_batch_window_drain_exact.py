"""Batch window drain, delete and run, exact: every SQS request, the window's bounds, what is deleted when.

Written against the survivors of ``make mutate-lambda FN=batch_window`` for ``drain``, ``delete_messages`` and
``run_window`` (README, "Development"). The moto tests showed that N files start one run and that the queue ends
empty; they did not pin the ReceiveMessage/DeleteMessageBatch requests, the two bounds of one window, the log lines
an operator reads, nor that a failed start deletes only the rejected events (the accepted ones must come back).
A recording stand-in answers as SQS does (ReceiveMessage without ``Messages`` when the queue is empty,
DeleteMessageBatch with ``Successful``/``Failed`` entries).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "lambda" / "batch_window"
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

import window  # noqa: E402

from tests.lambda_.test_batch_window_exact import (  # noqa: E402
    ACCOUNT,
    BUCKET,
    INPUT_PREFIX,
    MANIFEST_PREFIX,
    PIPELINE,
    REGION,
)

QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/batch-new-data"
EXECUTION_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PIPELINE}/execution/e1"


def settings(**changes: Any) -> window.Settings:
    values: dict[str, Any] = {
        "queue_url": QUEUE_URL,
        "pipeline_name": PIPELINE,
        "data_bucket": BUCKET,
        "input_prefix": INPUT_PREFIX,
        "manifest_prefix": MANIFEST_PREFIX,
        "expected_account": ACCOUNT,
        "expected_region": REGION,
        "receive_wait_seconds": 3,
        "visibility_timeout_seconds": 45,
    }
    values.update(changes)
    return window.Settings(**values)


def body(name: str) -> str:
    """An Object Created event body for ``<input prefix><name>``."""
    return json.dumps(
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "account": ACCOUNT,
            "region": REGION,
            "detail": {"bucket": {"name": BUCKET}, "object": {"key": f"{INPUT_PREFIX}{name}", "size": 10}},
        }
    )


def message(number: int, text: str | None) -> dict[str, Any]:
    """One message as ReceiveMessage returns it (``text=None``: a message without ``Body``)."""
    raw = {"MessageId": f"m{number}", "ReceiptHandle": f"r{number}", "MD5OfBody": "x"}
    if text is not None:
        raw["Body"] = text
    return raw


class FakeAws:
    """SQS, S3 and SageMaker in one recorder: every call, in order, with its exact keyword arguments."""

    def __init__(self, pages: list[list[dict[str, Any]]], *, failed: list[list[dict[str, str]]] | None = None) -> None:
        self.pages = list(pages)
        self.failed = list(failed or [])
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.start_error: Exception | None = None

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("receive_message", kwargs))
        page = self.pages.pop(0) if self.pages else []
        return {"Messages": page} if page else {}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("delete_message_batch", kwargs))
        failed = self.failed.pop(0) if self.failed else []
        failed_ids = {entry["Id"] for entry in failed}
        response: dict[str, Any] = {
            "Successful": [{"Id": e["Id"]} for e in kwargs["Entries"] if e["Id"] not in failed_ids]
        }
        if failed:
            response["Failed"] = failed
        return response

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("put_object", kwargs))
        return {}

    def start_pipeline_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("start_pipeline_execution", kwargs))
        if self.start_error is not None:
            raise self.start_error
        return {"PipelineExecutionArn": EXECUTION_ARN}

    def clients(self) -> window.AwsClients:
        return window.AwsClients(sqs=self, s3=self, sagemaker=self)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def deleted(self) -> list[list[str]]:
        """The receipt handles of each DeleteMessageBatch, in order."""
        return [
            [e["ReceiptHandle"] for e in kw["Entries"]] for name, kw in self.calls if name == "delete_message_batch"
        ]


class RecordingLogger:
    def __init__(self) -> None:
        self.records: list[tuple[str, object, dict[str, object]]] = []

    def _log(self, level: str, msg: object, extra: Mapping[str, object] | None) -> None:
        self.records.append((level, msg, dict(extra or {})))

    def info(self, msg: object, *, extra: Mapping[str, object] | None = None) -> None:
        self._log("info", msg, extra)

    def warning(self, msg: object, *, extra: Mapping[str, object] | None = None) -> None:
        self._log("warning", msg, extra)

    def error(self, msg: object, *, extra: Mapping[str, object] | None = None) -> None:
        self._log("error", msg, extra)


def receive_request(**changes: Any) -> tuple[str, dict[str, Any]]:
    request = {"QueueUrl": QUEUE_URL, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 3, "VisibilityTimeout": 45}
    request.update(changes)
    return ("receive_message", request)


# --- drain --------------------------------------------------------------------------------------------------------


def test_drain_receives_with_the_exact_request_until_the_queue_answers_without_messages() -> None:
    aws = FakeAws([[message(n, body(f"{n}.csv")) for n in range(10)], [message(10, body("10.csv"))]])
    logger = RecordingLogger()

    found = window.drain(settings(), aws.clients(), logger)

    assert aws.calls == [receive_request(), receive_request(), receive_request()]
    assert found.keys == {
        f"{INPUT_PREFIX}{n}.csv": [window.QueuedMessage(f"m{n}", f"r{n}", body(f"{n}.csv"))] for n in range(11)
    }
    assert (found.rejected, found.duplicates, logger.records) == ([], 0, [])


def test_drain_counts_duplicates_keeps_every_message_of_a_key_and_reads_past_a_rejection() -> None:
    aws = FakeAws(
        [
            [message(1, body("a.csv")), message(2, "{not json"), message(3, body("a.csv"))],
            [message(4, body("b.csv")), message(5, body("a.csv"))],
        ]
    )

    found = window.drain(settings(), aws.clients(), RecordingLogger())

    assert found.keys == {
        f"{INPUT_PREFIX}a.csv": [
            window.QueuedMessage("m1", "r1", body("a.csv")),
            window.QueuedMessage("m3", "r3", body("a.csv")),
            window.QueuedMessage("m5", "r5", body("a.csv")),
        ],
        f"{INPUT_PREFIX}b.csv": [window.QueuedMessage("m4", "r4", body("b.csv"))],
    }
    assert found.duplicates == 2
    assert [(m.message_id, e.code) for m, e in found.rejected] == [("m2", "not-json")]
    assert [m.message_id for m in found.accepted] == ["m1", "m3", "m5", "m4"]


def test_a_rejected_event_is_logged_once_with_its_code_detail_message_id_and_escaped_excerpt() -> None:
    aws = FakeAws([[message(7, 'x"\n' + "y" * 600)]])
    logger = RecordingLogger()

    found = window.drain(settings(), aws.clients(), logger)

    excerpt = 'x\\"\\n' + "y" * 509
    assert logger.records == [
        (
            "warning",
            "batch-window event rejected",
            {"code": "not-json", "detail": "message body is not JSON", "message_id": "m7", "excerpt": excerpt},
        )
    ]
    (rejected,) = found.rejected
    assert rejected[0] == window.QueuedMessage("m7", "r7", 'x"\n' + "y" * 600)
    assert (rejected[1].code, rejected[1].detail) == ("not-json", "message body is not JSON")


def test_a_message_without_a_body_is_rejected_as_an_empty_body() -> None:
    aws = FakeAws([[message(1, None)]])
    logger = RecordingLogger()

    found = window.drain(settings(), aws.clients(), logger)

    assert [m for m, _ in found.rejected] == [window.QueuedMessage("m1", "r1", "")]
    assert logger.records[0][2]["excerpt"] == ""


def test_drain_stops_receiving_once_the_window_holds_max_keys_distinct_keys() -> None:
    # Two keys per page; max_keys 4: exactly two receives, the third page waits for the next window.
    pages = [[message(2 * p + i, body(f"{p}-{i}.csv")) for i in range(2)] for p in range(3)]
    aws = FakeAws(pages)

    found = window.drain(settings(max_keys=4), aws.clients(), RecordingLogger())

    assert aws.calls == [receive_request(), receive_request()]
    assert len(found.keys) == 4
    assert len(aws.pages) == 1


def test_a_page_may_take_the_window_past_max_keys_without_dropping_any_of_its_messages() -> None:
    aws = FakeAws([[message(n, body(f"{n}.csv")) for n in range(3)], [message(9, body("9.csv"))]])

    found = window.drain(settings(max_keys=2), aws.clients(), RecordingLogger())

    assert aws.names() == ["receive_message"]
    assert sorted(found.keys) == [f"{INPUT_PREFIX}{n}.csv" for n in range(3)]


def test_drain_stops_after_receiving_twice_max_keys_messages_even_when_they_name_few_keys() -> None:
    # max_keys 3: at most 6 messages are received, counted across pages, rejected and duplicates included.
    pages = [
        [message(1, body("a.csv")), message(2, "junk")],
        [message(3, body("a.csv")), message(4, "junk")],
        [message(5, body("a.csv")), message(6, "junk")],
        [message(7, body("b.csv"))],
    ]
    aws = FakeAws(pages)

    found = window.drain(settings(max_keys=3), aws.clients(), RecordingLogger())

    assert aws.calls == [receive_request(), receive_request(), receive_request()]
    assert list(found.keys) == [f"{INPUT_PREFIX}a.csv"]
    assert (found.duplicates, len(found.rejected)) == (2, 3)


def test_drain_keeps_receiving_while_fewer_than_twice_max_keys_messages_arrived() -> None:
    # 5 of max_keys 3's 6 messages received: one more receive, which finds the queue empty.
    pages = [
        [message(1, body("a.csv")), message(2, "junk")],
        [message(3, "junk"), message(4, "junk")],
        [message(5, "junk")],
    ]
    aws = FakeAws(pages)

    window.drain(settings(max_keys=3), aws.clients(), RecordingLogger())

    assert aws.names() == ["receive_message"] * 4


def test_an_empty_queue_is_one_receive_and_an_empty_window() -> None:
    aws = FakeAws([])

    found = window.drain(settings(), aws.clients(), RecordingLogger())

    assert aws.calls == [receive_request()]
    assert (found.keys, found.rejected, found.duplicates) == ({}, [], 0)


# --- delete_messages ----------------------------------------------------------------------------------------------


def queued(count: int) -> list[window.QueuedMessage]:
    return [window.QueuedMessage(f"m{n}", f"r{n}", "") for n in range(count)]


def test_messages_are_deleted_in_batches_of_ten_with_ids_by_position() -> None:
    aws = FakeAws([])
    logger = RecordingLogger()

    window.delete_messages(settings(), aws.clients(), queued(23), logger)

    def batch(numbers: range) -> tuple[str, dict[str, Any]]:
        entries = [{"Id": str(i), "ReceiptHandle": f"r{n}"} for i, n in enumerate(numbers)]
        return ("delete_message_batch", {"QueueUrl": QUEUE_URL, "Entries": entries})

    assert aws.calls == [batch(range(0, 10)), batch(range(10, 20)), batch(range(20, 23))]
    assert logger.records == []


def test_exactly_ten_messages_are_one_batch_and_none_is_no_request() -> None:
    aws = FakeAws([])
    window.delete_messages(settings(), aws.clients(), queued(10), RecordingLogger())
    window.delete_messages(settings(), aws.clients(), [], RecordingLogger())
    assert aws.deleted() == [[f"r{n}" for n in range(10)]]


def test_a_failed_delete_is_logged_naming_the_message_of_its_own_batch() -> None:
    # Ids restart at 0 in each batch: Id "1" of the second batch is the twelfth message. SQS always sends a Code;
    # one without is logged with an empty code rather than failing the window.
    failed = [[], [{"Id": "1", "SenderFault": "false", "Code": "InternalError"}, {"Id": "0", "SenderFault": "true"}]]
    aws = FakeAws([], failed=failed)
    logger = RecordingLogger()

    window.delete_messages(settings(), aws.clients(), queued(12), logger)

    text = "batch-window message not deleted; its key will be scored again"
    assert logger.records == [
        ("error", text, {"message_id": "m11", "code": "InternalError"}),
        ("error", text, {"message_id": "m10", "code": ""}),
    ]


# --- run_window ---------------------------------------------------------------------------------------------------


def manifest_key(names: list[str]) -> str:
    manifest = json.dumps([{"prefix": f"s3://{BUCKET}/{INPUT_PREFIX}"}, *sorted(names)], separators=(",", ":"))
    digest = hashlib.sha256((PIPELINE + "\n" + manifest).encode()).hexdigest()
    return f"{MANIFEST_PREFIX}{digest[:32]}.manifest"


def test_a_window_deletes_its_rejections_then_starts_once_then_deletes_what_it_scored() -> None:
    aws = FakeAws(
        [[message(1, body("b.csv")), message(2, "junk"), message(3, body("a.csv")), message(4, body("b.csv"))]]
    )

    outcome = window.run_window(settings(), aws.clients(), RecordingLogger())

    assert aws.names() == [
        "receive_message",
        "receive_message",
        "delete_message_batch",
        "put_object",
        "start_pipeline_execution",
        "delete_message_batch",
    ]
    assert aws.deleted() == [["r2"], ["r1", "r4", "r3"]]
    uri = f"s3://{BUCKET}/{manifest_key(['a.csv', 'b.csv'])}"
    assert outcome == window.Outcome(
        status="started", new_keys=2, duplicates=1, rejected=1, manifest_uri=uri, execution_arn=EXECUTION_ARN
    )


def test_a_failed_start_deletes_only_the_rejected_events_and_keeps_the_accepted_ones_in_flight() -> None:
    aws = FakeAws([[message(1, body("a.csv")), message(2, "junk")]])
    aws.start_error = RuntimeError("ThrottlingException")

    with pytest.raises(RuntimeError) as caught:
        window.run_window(settings(), aws.clients(), RecordingLogger())

    assert caught.value is aws.start_error  # raised unchanged: the scheduler retries, the queue keeps the events

    assert aws.deleted() == [["r2"]]
    assert aws.names()[-1] == "start_pipeline_execution"


def test_a_window_of_only_rejections_deletes_them_and_starts_nothing() -> None:
    aws = FakeAws([[message(1, "junk"), message(2, "[]")]])

    outcome = window.run_window(settings(), aws.clients(), RecordingLogger())

    assert aws.names() == ["receive_message", "receive_message", "delete_message_batch"]
    assert aws.deleted() == [["r1", "r2"]]
    assert outcome == window.Outcome(status="empty", rejected=2)
    assert outcome.as_result() == {"status": "empty", "new_keys": 0, "duplicates": 0, "rejected": 2}


def test_an_empty_queue_sends_no_delete_and_starts_nothing() -> None:
    aws = FakeAws([])

    outcome = window.run_window(settings(), aws.clients(), RecordingLogger())

    assert aws.names() == ["receive_message"]
    assert outcome == window.Outcome(status="empty", rejected=0)


def test_a_window_logs_each_message_it_could_not_delete_on_its_own_logger() -> None:
    # Both deletes fail for one entry: the rejected event's (first batch) and an accepted one's (second batch).
    failed = [[{"Id": "0", "SenderFault": "false", "Code": "InternalError"}], [{"Id": "1", "Code": "InternalError"}]]
    aws = FakeAws([[message(1, "junk"), message(2, body("a.csv")), message(3, body("b.csv"))]], failed=failed)
    logger = RecordingLogger()

    outcome = window.run_window(settings(), aws.clients(), logger)

    text = "batch-window message not deleted; its key will be scored again"
    assert [record for record in logger.records if record[0] == "error"] == [
        ("error", text, {"message_id": "m1", "code": "InternalError"}),
        ("error", text, {"message_id": "m3", "code": "InternalError"}),
    ]
    assert (outcome.status, outcome.new_keys, outcome.rejected) == ("started", 2, 1)
