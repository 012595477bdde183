"""Clarify config, exact: each refusal of an event or a source config, and the exact GetObject/PutObject of the copy.

Written against ``make mutate-lambda FN=clarify_config`` (README, "Development"): the six survivors of
``parse_event`` (the messages CloudFormation shows for a bad request) and, for ``for_served_model`` and
``write_for_served_model``, what the moto tests only implied: the message naming the source's S3 URI, the JSON
error, the exact PutObject (content type, KMS key) and that a refused source writes nothing.
"""

from __future__ import annotations

import io
import json
from types import ModuleType
from typing import Any

import pytest

SOURCE_URI = "s3://mlops-dev-models/clarify/analysis_config.json"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"{not json", "is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (b"", "is not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"[1, 2]", "has no 'predictor' object; Clarify needs one to explain a model"),
        (b'{"methods": {}}', "has no 'predictor' object; Clarify needs one to explain a model"),
        (b'{"predictor": "model"}', "has no 'predictor' object; Clarify needs one to explain a model"),
        (b'{"predictor": null}', "has no 'predictor' object; Clarify needs one to explain a model"),
    ],
    ids=["not-json", "empty", "a-list", "no-predictor", "text-predictor", "null-predictor"],
)
def test_a_source_that_cannot_name_the_served_model_is_refused_naming_its_uri(
    analysis_config: ModuleType, source: bytes, message: str
) -> None:
    with pytest.raises(analysis_config.AnalysisConfigError) as caught:
        analysis_config.for_served_model(source, "served", source_uri=SOURCE_URI)
    assert str(caught.value) == f"{SOURCE_URI} {message}"


def test_the_json_error_is_reported_in_the_message_not_chained(analysis_config: ModuleType) -> None:
    with pytest.raises(analysis_config.AnalysisConfigError) as caught:
        analysis_config.for_served_model(b"{not json", "served", source_uri=SOURCE_URI)
    assert (caught.value.__cause__, caught.value.__suppress_context__) == (None, True)


def test_without_a_uri_the_refusal_names_the_source(analysis_config: ModuleType) -> None:
    with pytest.raises(analysis_config.AnalysisConfigError) as caught:
        analysis_config.for_served_model(b"{}", "served")
    assert str(caught.value) == "the source has no 'predictor' object; Clarify needs one to explain a model"


def test_an_endpoint_name_is_refused_even_when_empty(analysis_config: ModuleType) -> None:
    with pytest.raises(analysis_config.AnalysisConfigError) as caught:
        analysis_config.for_served_model(b'{"predictor": {"endpoint_name": ""}}', "served", source_uri=SOURCE_URI)
    assert str(caught.value) == (
        f"{SOURCE_URI}: predictor.endpoint_name '' makes Clarify call that endpoint, not a shadow endpoint of the "
        "served model; remove it"
    )


def test_the_model_name_is_added_when_absent_and_everything_else_is_kept(analysis_config: ModuleType) -> None:
    source = {"predictor": {"instance_type": "ml.m5.large"}, "methods": {"shap": {"num_samples": 10}}, "label": "y"}
    written = analysis_config.for_served_model(json.dumps(source).encode(), "served-2")
    assert json.loads(written) == {**source, "predictor": {"instance_type": "ml.m5.large", "model_name": "served-2"}}
    assert written == json.dumps(json.loads(written), indent=2, sort_keys=True).encode()


class RecordingS3:
    def __init__(self, source: bytes) -> None:
        self.source = source
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_object", kwargs))
        return {"Body": io.BytesIO(self.source), "ContentType": "application/json"}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("put_object", kwargs))
        return {"ETag": '"e"'}


def request(analysis_config: ModuleType) -> Any:
    return analysis_config.Request(
        request_type="Update",
        source_bucket="mlops-dev-models",
        source_key="clarify/analysis_config.json",
        target_bucket="mlops-prod-models",
        target_key="clarify/served/analysis_config.json",
        kms_key_id="arn:aws:kms:eu-west-1:123456789012:key/k",
        model_name="served-3",
    )


def test_the_copy_is_read_and_written_with_the_exact_requests(analysis_config: ModuleType) -> None:
    s3 = RecordingS3(b'{"predictor": {"model_name": "old"}}')

    uri = analysis_config.write_for_served_model(s3, request(analysis_config))

    assert uri == "s3://mlops-prod-models/clarify/served/analysis_config.json"
    assert s3.calls == [
        ("get_object", {"Bucket": "mlops-dev-models", "Key": "clarify/analysis_config.json"}),
        (
            "put_object",
            {
                "Bucket": "mlops-prod-models",
                "Key": "clarify/served/analysis_config.json",
                "Body": b'{\n  "predictor": {\n    "model_name": "served-3"\n  }\n}',
                "ContentType": "application/json",
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": "arn:aws:kms:eu-west-1:123456789012:key/k",
            },
        ),
    ]


def test_a_refused_source_is_named_by_its_s3_uri_and_nothing_is_written(analysis_config: ModuleType) -> None:
    s3 = RecordingS3(b'{"predictor": {"endpoint_name": "live"}}')

    with pytest.raises(analysis_config.AnalysisConfigError) as caught:
        analysis_config.write_for_served_model(s3, request(analysis_config))

    assert str(caught.value).startswith(f"{SOURCE_URI}: predictor.endpoint_name 'live' makes Clarify call")
    assert [name for name, _ in s3.calls] == ["get_object"]


PROPERTIES = {
    "SourceBucket": "mlops-dev-models",
    "SourceKey": "clarify/analysis_config.json",
    "TargetBucket": "mlops-prod-models",
    "TargetKey": "clarify/served/analysis_config.json",
    "KmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/k",
    "ModelName": "served-3",
}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"ResourceProperties": PROPERTIES}, "RequestType None is not Create, Update or Delete"),
        (
            {"RequestType": "Rollback", "ResourceProperties": PROPERTIES},
            "RequestType 'Rollback' is not Create, Update or Delete",
        ),
        ({"RequestType": "Create"}, "the event has no ResourceProperties"),
        ({"RequestType": "Create", "ResourceProperties": [PROPERTIES]}, "the event has no ResourceProperties"),
        (
            {"RequestType": "Create", "ResourceProperties": {**PROPERTIES, "SourceKey": "", "ModelName": 3}},
            "ResourceProperties lack SourceKey, ModelName",
        ),
    ],
    ids=["no-request-type", "unknown-request-type", "no-properties", "list-properties", "two-missing"],
)
def test_a_bad_request_is_refused_with_its_exact_message(
    analysis_config: ModuleType, event: dict[str, Any], message: str
) -> None:
    with pytest.raises(analysis_config.AnalysisConfigError) as caught:
        analysis_config.parse_event(event)
    assert str(caught.value) == message


def test_a_good_request_is_read_field_by_field(analysis_config: ModuleType) -> None:
    parsed = analysis_config.parse_event({"RequestType": "Update", "ResourceProperties": PROPERTIES})
    assert parsed == request(analysis_config)
