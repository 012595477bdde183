"""Batch arrival window: N files in one window start one run with a manifest of N keys; nothing half-acted on.

The real handler runs against moto (SQS, S3, SageMaker pipelines) with S3 "Object Created" events shaped as
Amazon S3 sends them to EventBridge and as EventBridge delivers them to SQS (the event JSON is the body).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTION_DIR = REPO_ROOT / "lambda" / "batch_window"
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

import window  # noqa: E402

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
BUCKET = "mlops-prod-data-123456789012-eu-west-1"
INPUT_PREFIX = "breast-cancer/batch/input/"
MANIFEST_PREFIX = "breast-cancer/batch/manifests/"
PIPELINE = "mlops-prod-breast-cancer-batch"
_loads = itertools.count()


def s3_event(key: str, *, size: int = 2048, sequencer: str = "617f08299329d189", **overrides: Any) -> dict[str, Any]:
    """An "Object Created" event as Amazon S3 sends it to EventBridge (S3 user guide example, our bucket)."""
    event: dict[str, Any] = {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-" + hashlib.sha256(f"{key}{sequencer}".encode()).hexdigest()[:12],
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2026-12-02T10:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {
                "key": key,
                "size": size,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                "sequencer": sequencer,
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT,
            "source-ip-address": "10.0.0.12",
            "reason": "PutObject",
        },
    }
    event.update(overrides)
    return event


@pytest.fixture
def aws(moto_aws: None) -> Iterator[dict[str, Any]]:
    """The queue, the data bucket and the batch pipeline (declaring the three parameters) in moto."""
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="batch-new-data")["QueueUrl"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    definition = {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "InputDataUri", "Type": "String", "DefaultValue": f"s3://{BUCKET}/{INPUT_PREFIX}"},
            {"Name": "InputDataType", "Type": "String", "DefaultValue": "S3Prefix"},
            {"Name": "TriggerReason", "Type": "String", "DefaultValue": "manual"},
        ],
        "Steps": [{"Name": "BatchTransform", "Type": "Transform", "Arguments": {}}],
    }
    sagemaker.create_pipeline(
        PipelineName=PIPELINE,
        PipelineDefinition=json.dumps(definition),
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/batch",
        ClientRequestToken="create-pipeline-token-0000000000000",
    )
    yield {"sqs": sqs, "s3": s3, "sagemaker": sagemaker, "queue_url": queue_url}


@pytest.fixture
def env(aws: dict[str, Any]) -> dict[str, str]:
    """The environment the BatchWindow construct sets (tests may edit it)."""
    return {
        "QUEUE_URL": aws["queue_url"],
        "PIPELINE_NAME": PIPELINE,
        "DATA_BUCKET": BUCKET,
        "INPUT_PREFIX": INPUT_PREFIX,
        "MANIFEST_PREFIX": MANIFEST_PREFIX,
        "EXPECTED_ACCOUNT": ACCOUNT,
        "EXPECTED_REGION": REGION,
        "RECEIVE_WAIT_SECONDS": "0",
        "VISIBILITY_TIMEOUT_SECONDS": "900",
        "POWERTOOLS_SERVICE_NAME": f"batch-window-test-{next(_loads)}",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], ModuleType]:
    """Load ``handler.py`` by path as a cold start would, with exactly ``env`` set."""

    def load(values: dict[str, str]) -> ModuleType:
        for name in ("QUEUE_URL", "PIPELINE_NAME", "DATA_BUCKET", "INPUT_PREFIX", "MANIFEST_PREFIX", "MAX_KEYS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        spec = importlib.util.spec_from_file_location(
            f"batch_window_handler_{next(_loads)}", FUNCTION_DIR / "handler.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def send(aws: dict[str, Any], *bodies: Any) -> None:
    for body in bodies:
        aws["sqs"].send_message(
            QueueUrl=aws["queue_url"], MessageBody=body if isinstance(body, str) else json.dumps(body)
        )


def queue_counts(aws: dict[str, Any]) -> tuple[int, int]:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["queue_url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def executions(aws: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = aws["sagemaker"].list_pipeline_executions(PipelineName=PIPELINE)[
        "PipelineExecutionSummaries"
    ]
    return found


def parameters(aws: dict[str, Any], arn: str) -> dict[str, str]:
    listed = aws["sagemaker"].list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    return {item["Name"]: item["Value"] for item in listed}


def manifest(aws: dict[str, Any], uri: str) -> list[Any]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    loaded: list[Any] = json.loads(aws["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())
    return loaded


def test_n_files_in_one_window_start_one_run_with_a_manifest_of_n_keys(
    aws: dict[str, Any], env: dict[str, str], load_handler: Callable[..., ModuleType], lambda_context: Any
) -> None:
    keys = [f"{INPUT_PREFIX}2026/12/02/part-{n:04d}.csv" for n in range(25)]
    send(aws, *(s3_event(key, sequencer=f"{n:016x}") for n, key in enumerate(keys)))

    result = load_handler(env).lambda_handler({"source": "aws.scheduler"}, lambda_context)

    assert result["status"] == "started"
    assert result["new_keys"] == 25
    (execution,) = executions(aws)
    assert execution["PipelineExecutionArn"] == result["execution_arn"]
    assert execution["PipelineExecutionDisplayName"].startswith("new-data-")
    uri = result["manifest_uri"]
    assert uri.startswith(f"s3://{BUCKET}/{MANIFEST_PREFIX}") and uri.endswith(".manifest")
    assert parameters(aws, execution["PipelineExecutionArn"]) == {
        "InputDataUri": uri,
        "InputDataType": "ManifestFile",
        "TriggerReason": "new-data:25 files",
    }
    # TransformS3DataSource's manifest format: a prefix object, then keys relative to it.
    body = manifest(aws, uri)
    assert body[0] == {"prefix": f"s3://{BUCKET}/{INPUT_PREFIX}"}
    assert body[1:] == sorted(key.removeprefix(INPUT_PREFIX) for key in keys)
    assert queue_counts(aws) == (0, 0)  # every event acted on and deleted


def test_an_empty_window_starts_nothing(
    aws: dict[str, Any], env: dict[str, str], load_handler: Callable[..., ModuleType], lambda_context: Any
) -> None:
    result = load_handler(env).lambda_handler({}, lambda_context)

    assert result == {"status": "empty", "new_keys": 0, "duplicates": 0, "rejected": 0}
    assert executions(aws) == []
    assert aws["s3"].list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_duplicate_events_score_a_file_once(
    aws: dict[str, Any], env: dict[str, str], load_handler: Callable[..., ModuleType], lambda_context: Any
) -> None:
    first = s3_event(f"{INPUT_PREFIX}a.csv")
    overwrite = s3_event(f"{INPUT_PREFIX}a.csv", sequencer="617f08299329d200")
    send(aws, first, copy.deepcopy(first), overwrite, s3_event(f"{INPUT_PREFIX}b.csv"))

    result = load_handler(env).lambda_handler({}, lambda_context)

    assert (result["new_keys"], result["duplicates"]) == (2, 2)
    assert manifest(aws, result["manifest_uri"])[1:] == ["a.csv", "b.csv"]
    assert len(executions(aws)) == 1
    assert queue_counts(aws) == (0, 0)


def test_bad_events_are_logged_and_rejected_and_the_good_ones_still_run(
    aws: dict[str, Any],
    env: dict[str, str],
    load_handler: Callable[..., ModuleType],
    lambda_context: Any,
    read_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    foreign = s3_event(f"{INPUT_PREFIX}x.csv")
    foreign["detail"]["bucket"]["name"] = "someone-elses-bucket"
    send(
        aws,
        "not json at all",
        s3_event(f"{INPUT_PREFIX}ok.csv"),
        foreign,
        s3_event("breast-cancer/batch/output/result.csv.out"),
        s3_event(f"{INPUT_PREFIX}folder/"),
        s3_event(f"{INPUT_PREFIX}empty.csv", size=0),
        s3_event(f"{INPUT_PREFIX}y.csv", source="aws.ec2"),
        s3_event(f"{INPUT_PREFIX}z.csv", account="999999999999"),
    )
    handler = load_handler(env)
    read_logs()

    result = handler.lambda_handler({}, lambda_context)

    assert (result["status"], result["new_keys"], result["rejected"]) == ("started", 1, 7)
    assert manifest(aws, result["manifest_uri"])[1:] == ["ok.csv"]
    codes = sorted(r["code"] for r in read_logs() if r.get("message") == "batch-window event rejected")
    assert codes == sorted(
        ["not-json", "wrong-bucket", "outside-prefix", "folder-marker", "empty-object", "wrong-event", "wrong-origin"]
    )
    assert queue_counts(aws) == (0, 0)


def test_only_bad_events_start_nothing(
    aws: dict[str, Any], env: dict[str, str], load_handler: Callable[..., ModuleType], lambda_context: Any
) -> None:
    send(aws, "[]", s3_event("elsewhere/file.csv"))

    result = load_handler(env).lambda_handler({}, lambda_context)

    assert (result["status"], result["rejected"]) == ("empty", 2)
    assert executions(aws) == []
    assert queue_counts(aws) == (0, 0)


def test_a_failed_start_deletes_nothing_so_the_next_window_retries(
    aws: dict[str, Any], env: dict[str, str], load_handler: Callable[..., ModuleType], lambda_context: Any
) -> None:
    send(aws, s3_event(f"{INPUT_PREFIX}a.csv"), s3_event(f"{INPUT_PREFIX}b.csv"))
    env["PIPELINE_NAME"] = "no-such-pipeline"

    with pytest.raises(Exception, match=r"(?i)pipeline|not found|does not exist"):
        load_handler(env).lambda_handler({}, lambda_context)

    assert executions(aws) == []
    assert queue_counts(aws) == (0, 2)  # still in flight: visible again after the visibility timeout


def test_a_window_is_capped_and_the_rest_waits(
    aws: dict[str, Any], env: dict[str, str], load_handler: Callable[..., ModuleType], lambda_context: Any
) -> None:
    send(aws, *(s3_event(f"{INPUT_PREFIX}{n}.csv") for n in range(15)))
    env["MAX_KEYS"] = "10"

    result = load_handler(env).lambda_handler({}, lambda_context)

    assert result["new_keys"] == 10
    assert queue_counts(aws) == (5, 0)


def test_the_same_window_content_gives_the_same_manifest_and_start_token() -> None:
    settings = window.Settings.from_env(
        {
            "QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q",
            "PIPELINE_NAME": PIPELINE,
            "DATA_BUCKET": BUCKET,
            "INPUT_PREFIX": INPUT_PREFIX,
            "MANIFEST_PREFIX": MANIFEST_PREFIX,
            "EXPECTED_ACCOUNT": ACCOUNT,
            "EXPECTED_REGION": REGION,
        }
    )
    one = window.manifest_body(settings, [f"{INPUT_PREFIX}b.csv", f"{INPUT_PREFIX}a.csv"])
    two = window.manifest_body(settings, [f"{INPUT_PREFIX}a.csv", f"{INPUT_PREFIX}b.csv"])
    assert (
        one == two == json.dumps([{"prefix": f"s3://{BUCKET}/{INPUT_PREFIX}"}, "a.csv", "b.csv"], separators=(",", ":"))
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("QUEUE_URL", "not-a-url", "QUEUE_URL"),
        ("INPUT_PREFIX", "no-trailing-slash", "INPUT_PREFIX"),
        ("MANIFEST_PREFIX", f"{INPUT_PREFIX}manifests/", "INPUT_PREFIX/MANIFEST_PREFIX overlap"),
        ("MAX_KEYS", "0", "MAX_KEYS"),
    ],
)
def test_bad_configuration_fails_the_cold_start_naming_the_variable(
    env: dict[str, str], load_handler: Callable[..., ModuleType], name: str, value: str, message: str
) -> None:
    env[name] = value
    with pytest.raises(window.ConfigError, match=message):
        load_handler(env)
