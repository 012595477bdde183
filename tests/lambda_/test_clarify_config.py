"""The served model's Clarify analysis config: CloudFormation custom-resource events (as the CDK Provider framework
passes them on), moto S3 and KMS, the config Clarify reads."""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.lambda_.conftest import FakeLambdaContext

CODE_DIR = Path(__file__).resolve().parents[2] / "lambda" / "clarify_config"
REGION = "eu-west-1"
SOURCE_BUCKET = "mlops-prod-models-333333333333-eu-west-1"
SOURCE_KEY = "breast-cancer/baselines/explainability/analysis_config.json"
TARGET_BUCKET = "mlops-prod-reports-333333333333-eu-west-1"
TARGET_KEY = "breast-cancer/clarify/explainability/analysis_config.json"
TARGET_URI = f"s3://{TARGET_BUCKET}/{TARGET_KEY}"
_loads = itertools.count()

# The analysis config of Clarify's explainability monitoring (the sagemaker SDK's ExplainabilityAnalysisConfig).
SOURCE_CONFIG: dict[str, Any] = {
    "methods": {"shap": {"baseline": [[14.1] * 30], "num_samples": 100, "agg_method": "mean_abs"}},
    "predictor": {
        "model_name": "ModelResource-OLD1234",
        "instance_type": "ml.m5.large",
        "initial_instance_count": 1,
        "content_type": "text/csv",
        "accept_type": "text/csv",
    },
    "headers": [f"f{i}" for i in range(30)],
}

# A CloudFormation custom-resource request (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html).
CREATE: dict[str, Any] = {
    "RequestType": "Create",
    "ServiceToken": "arn:aws:lambda:eu-west-1:333333333333:function:framework-onEvent",
    "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/x",
    "StackId": "arn:aws:cloudformation:eu-west-1:333333333333:stack/mlops-prod-breast-cancer-monitoring/1",
    "RequestId": "e2a3f4c1-0000-4000-8000-000000000001",
    "LogicalResourceId": "ExplainabilityConfig297FA1E9",
    "ResourceType": "Custom::ClarifyAnalysisConfig",
    "ResourceProperties": {
        "ServiceToken": "arn:aws:lambda:eu-west-1:333333333333:function:framework-onEvent",
        "SourceBucket": SOURCE_BUCKET,
        "SourceKey": SOURCE_KEY,
        "TargetBucket": TARGET_BUCKET,
        "TargetKey": TARGET_KEY,
        "KmsKeyId": "",
        "ModelName": "ModelResource-NEW5678",
    },
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto S3 with both buckets and the source config, and a KMS key; returns the S3 client and the key ARN."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (SOURCE_BUCKET, TARGET_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=SOURCE_BUCKET, Key=SOURCE_KEY, Body=json.dumps(SOURCE_CONFIG).encode())
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        yield {"s3": s3, "key_arn": key_arn}


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``handler.py`` loaded by path, as a cold start would."""
    monkeypatch.syspath_prepend(str(CODE_DIR))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"clarify-config-test-{next(_loads)}")
    monkeypatch.delitem(sys.modules, "analysis_config", raising=False)
    spec = importlib.util.spec_from_file_location(f"clarify_config_handler_{next(_loads)}", CODE_DIR / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(request_type: str, key_arn: str, **properties: str) -> dict[str, Any]:
    """A request of ``request_type`` with ``properties`` changed."""
    value = copy.deepcopy(CREATE)
    value["RequestType"] = request_type
    value["ResourceProperties"].update({"KmsKeyId": key_arn, **properties})
    if request_type != "Create":
        value["PhysicalResourceId"] = TARGET_URI
    if request_type == "Update":
        value["OldResourceProperties"] = {**CREATE["ResourceProperties"], "KmsKeyId": key_arn}
    return value


def written(s3: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The written config and its object's metadata."""
    response = s3.get_object(Bucket=TARGET_BUCKET, Key=TARGET_KEY)
    return json.loads(response["Body"].read()), response


def test_create_writes_the_config_for_the_served_model_encrypted(aws: dict[str, Any], handler: ModuleType) -> None:
    result = handler.on_event(event("Create", aws["key_arn"]), FakeLambdaContext())
    assert result == {"PhysicalResourceId": TARGET_URI, "Data": {"ConfigUri": TARGET_URI}}
    config, response = written(aws["s3"])
    assert config["predictor"]["model_name"] == "ModelResource-NEW5678"
    # Everything else is the baseline's own config.
    assert {**config, "predictor": {**config["predictor"], "model_name": "ModelResource-OLD1234"}} == SOURCE_CONFIG
    assert response["ServerSideEncryption"] == "aws:kms"
    assert response["SSEKMSKeyId"] == aws["key_arn"]
    assert response["ContentType"] == "application/json"


def test_a_promotion_rewrites_it_under_the_same_physical_id(aws: dict[str, Any], handler: ModuleType) -> None:
    handler.on_event(event("Create", aws["key_arn"]), FakeLambdaContext())
    result = handler.on_event(event("Update", aws["key_arn"], ModelName="ModelResource-NEXT9999"), FakeLambdaContext())
    # Same physical ID: CloudFormation sends no Delete for it, the job definition keeps reading the same URI.
    assert result["PhysicalResourceId"] == TARGET_URI
    assert written(aws["s3"])[0]["predictor"]["model_name"] == "ModelResource-NEXT9999"


def test_delete_leaves_the_object(aws: dict[str, Any], handler: ModuleType) -> None:
    handler.on_event(event("Create", aws["key_arn"]), FakeLambdaContext())
    result = handler.on_event(event("Delete", aws["key_arn"]), FakeLambdaContext())
    assert result == {"PhysicalResourceId": TARGET_URI}
    assert written(aws["s3"])[0]["predictor"]["model_name"] == "ModelResource-NEW5678"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ({"methods": {}}, ["has no 'predictor' object"]),
        ({**SOURCE_CONFIG, "predictor": {"endpoint_name": "mlops-prod-breast-cancer"}}, ["predictor.endpoint_name"]),
        ("not json", ["is not JSON"]),
    ],
)
def test_a_source_that_cannot_explain_the_served_model_fails_the_deploy(
    aws: dict[str, Any], handler: ModuleType, source: Any, words: list[str]
) -> None:
    body = source.encode() if isinstance(source, str) else json.dumps(source).encode()
    aws["s3"].put_object(Bucket=SOURCE_BUCKET, Key=SOURCE_KEY, Body=body)
    with pytest.raises(ValueError) as error:
        handler.on_event(event("Create", aws["key_arn"]), FakeLambdaContext())
    assert f"s3://{SOURCE_BUCKET}/{SOURCE_KEY}" in str(error.value)
    for word in words:
        assert word in str(error.value)
    with pytest.raises(aws["s3"].exceptions.NoSuchKey):
        aws["s3"].get_object(Bucket=TARGET_BUCKET, Key=TARGET_KEY)


def test_a_request_without_the_model_name_is_refused(aws: dict[str, Any], handler: ModuleType) -> None:
    with pytest.raises(ValueError, match="ResourceProperties lack ModelName"):
        handler.on_event(event("Create", aws["key_arn"], ModelName=""), FakeLambdaContext())
