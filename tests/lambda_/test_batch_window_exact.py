"""Batch window, exact: every rejection's code and detail, the log excerpt, and the exact manifest write and start.

Written against the survivors of ``make mutate-lambda FN=batch_window`` (README, "Development"): the moto tests
checked which events were rejected and that one run started, not what an operator reads in the rejection log line
nor the exact PutObject/StartPipelineExecution requests.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "lambda" / "batch_window"
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

import window  # noqa: E402

ACCOUNT = "123456789012"
REGION = "eu-west-1"
BUCKET = "mlops-prod-data-123456789012-eu-west-1"
INPUT_PREFIX = "breast-cancer/batch/input/"
MANIFEST_PREFIX = "breast-cancer/batch/manifests/"
PIPELINE = "mlops-prod-breast-cancer-batch"
SETTINGS = window.Settings(
    queue_url=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q",
    pipeline_name=PIPELINE,
    data_bucket=BUCKET,
    input_prefix=INPUT_PREFIX,
    manifest_prefix=MANIFEST_PREFIX,
    expected_account=ACCOUNT,
    expected_region=REGION,
)


def event(**overrides: Any) -> dict[str, Any]:
    """A minimal valid Object Created event; ``overrides`` replace top-level fields."""
    body: dict[str, Any] = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "account": ACCOUNT,
        "region": REGION,
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": f"{INPUT_PREFIX}a.csv", "size": 10}},
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ("{not json", "not-json", "message body is not JSON"),
        ("[1, 2]", "not-an-object", "event is a list, not a JSON object"),
        ('"text"', "not-an-object", "event is a str, not a JSON object"),
        (
            json.dumps(event(source="aws.ec2")),
            "wrong-event",
            "source='aws.ec2' detail-type='Object Created'",
        ),
        (
            json.dumps(event(**{"detail-type": "Object Deleted"})),
            "wrong-event",
            "source='aws.s3' detail-type='Object Deleted'",
        ),
        (json.dumps(event(account="210987654321")), "wrong-origin", "account='210987654321' region='eu-west-1'"),
        (json.dumps(event(region="us-east-1")), "wrong-origin", "account='123456789012' region='us-east-1'"),
        (json.dumps(event(detail="text")), "bad-field", "detail.bucket and detail.object must be objects"),
        (json.dumps(event(detail=None)), "bad-field", "detail.bucket and detail.object must be objects"),
        (
            json.dumps(event(detail={"bucket": {"name": BUCKET}})),
            "bad-field",
            "detail.bucket and detail.object must be objects",
        ),
        (
            json.dumps(
                event(detail={"bucket": {"name": "other"}, "object": {"key": f"{INPUT_PREFIX}a.csv", "size": 1}})
            ),
            "wrong-bucket",
            "detail.bucket.name='other'",
        ),
    ],
)
def test_each_rejection_carries_its_exact_code_and_detail(body: str, code: str, detail: str) -> None:
    with pytest.raises(window.EventRejectedError) as caught:
        window.parse_object_key(body, SETTINGS)
    assert (caught.value.code, caught.value.detail, str(caught.value)) == (code, detail, f"{code}: {detail}")


def test_a_missing_source_and_detail_type_are_named_as_none() -> None:
    body = event()
    del body["source"], body["detail-type"]
    with pytest.raises(window.EventRejectedError) as caught:
        window.parse_object_key(json.dumps(body), SETTINGS)
    assert caught.value.detail == "source=None detail-type=None"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("plain", 512, "plain"),
        ('a"b\nc\x00', 512, 'a\\"b\\nc\\u0000'),
        ("abcdef", 3, "abc"),
        ("", 512, ""),
    ],
)
def test_the_log_excerpt_is_the_bounded_escaped_text(text: str, limit: int, expected: str) -> None:
    assert window.safe_excerpt(text, limit) == expected


class _Recorder:
    """Records each call's keyword arguments; answers start_pipeline_execution with an ARN."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("put_object", kwargs))
        return {}

    def start_pipeline_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("start_pipeline_execution", kwargs))
        return {"PipelineExecutionArn": "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/p/execution/e1"}


def test_a_window_writes_its_manifest_and_starts_once_with_the_exact_requests() -> None:
    recorder = _Recorder()
    clients = window.AwsClients(sqs=None, s3=recorder, sagemaker=recorder)
    found = window.Window(keys={f"{INPUT_PREFIX}b.csv": [], f"{INPUT_PREFIX}a.csv": []})
    body = json.dumps([{"prefix": f"s3://{BUCKET}/{INPUT_PREFIX}"}, "a.csv", "b.csv"], separators=(",", ":"))
    digest = hashlib.sha256(f"{PIPELINE}\n{body}".encode()).hexdigest()
    key = f"{MANIFEST_PREFIX}{digest[:32]}.manifest"
    uri = f"s3://{BUCKET}/{key}"

    assert window.start_window(SETTINGS, clients, found) == (
        uri,
        "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/p/execution/e1",
    )
    assert recorder.calls == [
        ("put_object", {"Bucket": BUCKET, "Key": key, "Body": body.encode(), "ContentType": "application/json"}),
        (
            "start_pipeline_execution",
            {
                "PipelineName": PIPELINE,
                "PipelineExecutionDisplayName": f"new-data-{digest[:16]}",
                "PipelineExecutionDescription": f"Scores 2 new files listed in {uri}",
                "PipelineParameters": [
                    {"Name": "InputDataUri", "Value": uri},
                    {"Name": "InputDataType", "Value": "ManifestFile"},
                    {"Name": "TriggerReason", "Value": "new-data:2 files"},
                ],
                "ClientRequestToken": digest,
            },
        ),
    ]
