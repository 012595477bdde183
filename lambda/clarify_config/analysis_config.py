"""The Clarify analysis config of the model an endpoint serves now (plain logic; the handler is thin).

Clarify's explainability job computes SHAP values on a shadow endpoint it makes from the model named in the analysis
config's ``predictor.model_name`` ("Configure the Analysis", predictor parameters; the sagemaker SDK's
``ExplainabilityAnalysisConfig`` puts ``ModelConfig.get_predictor_config()`` there, whose ``model_name`` is "as
created by CreateModel"). The serving stack's Model gets a
new CloudFormation-generated name on every approval, so a config written once names a model that no longer exists
after the first promotion. This custom resource copies the explainability baseline's analysis config with
``predictor.model_name`` set to the served model, at every deploy where the model (or the source) changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

REQUIRED = ("SourceBucket", "SourceKey", "TargetBucket", "TargetKey", "KmsKeyId", "ModelName")


class AnalysisConfigError(ValueError):
    """The request or the source analysis config cannot give a config for the served model."""


class ObjectStore(Protocol):
    """What this needs from an S3 client."""

    def get_object(self, **kwargs: Any) -> Any:
        """GetObject."""
        ...

    def put_object(self, **kwargs: Any) -> Any:
        """PutObject."""
        ...


@dataclass(frozen=True)
class Request:
    """One CloudFormation custom-resource request, as the Provider framework hands it over."""

    request_type: str
    source_bucket: str
    source_key: str
    target_bucket: str
    target_key: str
    kms_key_id: str
    model_name: str

    @property
    def target_uri(self) -> str:
        """The written config's S3 URI, also the resource's physical ID."""
        return f"s3://{self.target_bucket}/{self.target_key}"


def parse_event(event: Mapping[str, Any]) -> Request:
    """The request in a CloudFormation custom-resource event; ``AnalysisConfigError`` naming what is missing."""
    request_type = event.get("RequestType")
    if request_type not in ("Create", "Update", "Delete"):
        raise AnalysisConfigError(f"RequestType {request_type!r} is not Create, Update or Delete")
    properties = event.get("ResourceProperties")
    if not isinstance(properties, Mapping):
        raise AnalysisConfigError("the event has no ResourceProperties")
    missing = [name for name in REQUIRED if not isinstance(properties.get(name), str) or not properties[name]]
    if missing:
        raise AnalysisConfigError(f"ResourceProperties lack {', '.join(missing)}")
    return Request(
        request_type=str(request_type),
        source_bucket=properties["SourceBucket"],
        source_key=properties["SourceKey"],
        target_bucket=properties["TargetBucket"],
        target_key=properties["TargetKey"],
        kms_key_id=properties["KmsKeyId"],
        model_name=properties["ModelName"],
    )


def for_served_model(source: bytes, model_name: str, *, source_uri: str = "the source") -> bytes:
    """``source`` (an analysis config, JSON) with ``predictor.model_name`` set to ``model_name``.

    Refuses a config without a ``predictor`` object, and one whose predictor names an ``endpoint_name``: Clarify would
    then call that endpoint instead of a shadow of the served model.
    """
    try:
        config = json.loads(source)
    except ValueError as error:
        raise AnalysisConfigError(f"{source_uri} is not JSON: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("predictor"), dict):
        raise AnalysisConfigError(f"{source_uri} has no 'predictor' object; Clarify needs one to explain a model")
    predictor = config["predictor"]
    if "endpoint_name" in predictor:
        raise AnalysisConfigError(
            f"{source_uri}: predictor.endpoint_name {predictor['endpoint_name']!r} makes Clarify call that endpoint, "
            "not a shadow endpoint of the served model; remove it"
        )
    predictor["model_name"] = model_name
    return json.dumps(config, indent=2, sort_keys=True).encode()


def write_for_served_model(s3: ObjectStore, request: Request) -> str:
    """Read the source config, write the served model's copy encrypted with the environment key; its URI."""
    source_uri = f"s3://{request.source_bucket}/{request.source_key}"
    body = s3.get_object(Bucket=request.source_bucket, Key=request.source_key)["Body"].read()
    s3.put_object(
        Bucket=request.target_bucket,
        Key=request.target_key,
        Body=for_served_model(body, request.model_name, source_uri=source_uri),
        ContentType="application/json",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=request.kms_key_id,
    )
    return request.target_uri
