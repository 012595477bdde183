"""Fixtures for Lambda handler tests: fake AWS credentials, moto, handler loading, log capture.

``lambda`` is a Python keyword, so function code is never imported as a package: the
retrain-trigger folder goes on ``sys.path`` (as the Lambda runtime puts the asset root there)
and each test loads ``handler.py`` by path under a fresh module name, so that its cold-start
configuration is read from that test's environment.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

REPO_ROOT = Path(__file__).resolve().parents[2]
RETRAIN_TRIGGER_DIR = REPO_ROOT / "lambda" / "retrain_trigger"
EVENTS_DIR = Path(__file__).resolve().parent / "events"

if str(RETRAIN_TRIGGER_DIR) not in sys.path:
    sys.path.insert(0, str(RETRAIN_TRIGGER_DIR))

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
PIPELINE_NAME = "churn-dev-training"
DATA_BUCKET = "mlops-dev-training-data"
DATA_PREFIX = "churn/training/"
DRIFT_ALARM = "churn-dev-feature-drift"
QUALITY_ALARM = "churn-dev-model-quality"
# The retrain trigger's FIFO queue (CDK names it; any name in this account and region ending in .fifo).
TRIGGER_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:mlops-dev-churn-training-RetrainingTriggerQueue1A2B3C.fifo"

_handler_loads = itertools.count()


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a Lambda test reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def retrain_env() -> dict[str, str]:
    """Environment the CDK construct sets on the retrain-trigger function (tests may edit it)."""
    return {
        "PIPELINE_NAME": PIPELINE_NAME,
        "MODEL_NAME": "churn",
        "ENVIRONMENT_NAME": "dev",
        "EXPECTED_ACCOUNT": ACCOUNT,
        "EXPECTED_REGION": REGION,
        "ALARM_NAMES": json.dumps([DRIFT_ALARM, QUALITY_ALARM]),
        "DATA_BUCKET": DATA_BUCKET,
        "DATA_PREFIX": DATA_PREFIX,
        "MIN_NEW_OBJECTS": "3",
        "MIN_NEW_BYTES": "0",
        "COOLDOWN_MINUTES": "60",
        "DAILY_CAP": "3",
        "TRIGGER_PARAMETER_NAME": "TriggerReason",
        # A fresh service name per load gives each test a logger bound to its own captured stdout.
        "POWERTOOLS_SERVICE_NAME": f"retrain-trigger-test-{next(_handler_loads)}",
        "LOG_LEVEL": "INFO",
    }


def lambda_module(folder: str, name: str) -> Iterator[ModuleType]:
    """Module ``name`` of ``lambda/<folder>``, imported as the Lambda runtime imports it (the folder is the asset
    root), under the name mutmut gives its mutants; the folder leaves ``sys.path`` afterwards."""
    path = str(REPO_ROOT / "lambda" / folder)
    sys.path.insert(0, path)
    try:
        yield __import__(name)
    finally:
        sys.path.remove(path)


@pytest.fixture
def bridge() -> Iterator[ModuleType]:
    """The monitor bridge's ``bridge`` module."""
    yield from lambda_module("monitor_bridge", "bridge")


@pytest.fixture
def analysis_config() -> Iterator[ModuleType]:
    """The Clarify config writer's ``analysis_config`` module."""
    yield from lambda_module("clarify_config", "analysis_config")


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """moto for every AWS API, started before any client is created."""
    with mock_aws():
        yield


def create_training_pipeline() -> str:
    """Create, in the running moto, a real pipeline with a minimal definition that declares TriggerReason."""
    definition = {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [{"Name": "TriggerReason", "Type": "String", "DefaultValue": "manual"}],
        "Steps": [
            {
                "Name": "Train",
                "Type": "Training",
                "Arguments": {"AlgorithmSpecification": {"TrainingInputMode": "File"}},
            }
        ],
    }
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_pipeline(
        PipelineName=PIPELINE_NAME,
        PipelineDefinition=json.dumps(definition),
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline-execution",
        ClientRequestToken="create-pipeline-token-0000000000000",
    )
    return PIPELINE_NAME


def create_data_bucket() -> Any:
    """Create the training-data bucket in the running moto; returns an S3 client."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(
        Bucket=DATA_BUCKET,
        CreateBucketConfiguration={"LocationConstraint": REGION},
    )
    return s3


@pytest.fixture
def training_pipeline(moto_aws: None) -> str:
    """A real pipeline in moto with a minimal definition that declares TriggerReason."""
    return create_training_pipeline()


@pytest.fixture
def data_bucket(moto_aws: None) -> Any:
    """The training-data bucket in moto; returns an S3 client."""
    return create_data_bucket()


@pytest.fixture
def load_handler(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[[dict[str, str]], ModuleType]:
    """Load ``handler.py`` by path as a cold start would, with exactly ``env`` set."""

    def load(env: dict[str, str]) -> ModuleType:
        for name in [*env, "MAX_EVENT_BYTES", "HISTORY_LOOKBACK_HOURS"]:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        module_name = f"retrain_trigger_handler_{next(_handler_loads)}"
        spec = importlib.util.spec_from_file_location(module_name, RETRAIN_TRIGGER_DIR / "handler.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from the Lambda context."""

    function_name: str = "retrain-trigger-churn-dev"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:retrain-trigger-churn-dev"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    """A stand-in Lambda context object."""
    return FakeLambdaContext()


@pytest.fixture
def read_logs(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """Structured log records written to stdout since the last call."""

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    return read


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """Read a real-shaped event from ``tests/lambda_/events`` as a fresh dict."""

    def load(name: str) -> dict[str, Any]:
        with (EVENTS_DIR / f"{name}.json").open(encoding="utf-8") as handle:
            event: dict[str, Any] = json.load(handle)
        return event

    return load


_sequence = itertools.count(18849496460467696128)


def sqs_record(
    body: str,
    *,
    message_id: str | None = None,
    group_id: str = PIPELINE_NAME,
    queue_arn: str = TRIGGER_QUEUE_ARN,
    receive_count: int = 1,
) -> dict[str, Any]:
    """One record of an SQS FIFO event source mapping invocation, as Lambda sends it ("Using Lambda with Amazon SQS").

    The trigger queue deduplicates by content, so SQS sets ``MessageDeduplicationId`` to the body's SHA-256.
    """
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a" + hashlib.sha256(body.encode()).hexdigest()[:24],
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1748830200000",
            "SequenceNumber": str(next(_sequence)),
            "MessageGroupId": group_id,
            "SenderId": "AROAEXAMPLEEXAMPLE123:events",
            "MessageDeduplicationId": hashlib.sha256(body.encode()).hexdigest(),
            "ApproximateFirstReceiveTimestamp": "1748830200123",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    """An SQS event source mapping invocation holding ``records`` in order."""
    return {"Records": list(records)}


Invoke = Callable[..., dict[str, Any]]


@pytest.fixture
def invoke(lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Deliver a trigger event to a loaded handler as the trigger queue does; return what it did with it.

    The event becomes the JSON body of one FIFO record (``body`` gives the raw body text instead). The invocation
    must succeed with an empty partial batch response; the result is the record handler's own (the status, code
    and detail the handler logs), captured on the real path through Powertools' FIFO batch processor.
    """

    def run(handler: ModuleType, event: object = None, *, body: str | None = None) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        original = handler.record_handler

        def record_and_keep(record: Any) -> dict[str, Any]:
            result: dict[str, Any] = original(record)
            results.append(result)
            return result

        monkeypatch.setattr(handler, "record_handler", record_and_keep)
        try:
            text = body if body is not None else json.dumps(event)
            response = handler.lambda_handler(sqs_event(sqs_record(text)), lambda_context)
        finally:
            monkeypatch.setattr(handler, "record_handler", original)
        assert response == {"batchItemFailures": []}
        (result,) = results
        return result

    return run
