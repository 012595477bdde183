"""Lambda entry point of the promotion custom resource (``handler.lambda_handler``).

CloudFormation invokes the function directly (``ServiceToken``) with a Create, Update or Delete request and waits
for the answer at the request's pre-signed ``ResponseURL`` ("Custom resource response objects"). Create and Update
promote the package (``promote.promote``); Delete does nothing, because promoted copies outlive the stack that
asked for them (the served model and rollbacks may still read them). Every outcome is answered, a failure with
a reason CloudFormation shows in the stack events.
"""

from __future__ import annotations

import json
import os
import urllib.request
from functools import cache
from typing import TYPE_CHECKING, Any

import promote
from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "promote-model"))
# "Custom resource response objects": the whole response body may not exceed 4096 bytes.
MAX_REASON = 2000


@cache
def aws_clients(registry_region: str) -> tuple[Any, Any, Any]:
    """SageMaker and S3 clients in the registry's region and an S3 client here, built once per container."""
    import boto3  # type: ignore[import-untyped, unused-ignore]
    from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]

    config = Config(retries={"mode": "standard", "max_attempts": 5})
    return (
        boto3.client("sagemaker", region_name=registry_region, config=config),
        boto3.client("s3", region_name=registry_region, config=config),
        boto3.client("s3", config=config),
    )


def handle(event: dict[str, Any], clients: Any = aws_clients) -> dict[str, Any]:
    """The response body for one custom resource request (never raises)."""
    request_type = event.get("RequestType")
    physical_id = event.get("PhysicalResourceId") or f"promotion-{event.get('LogicalResourceId', 'unknown')}"
    response: dict[str, Any] = {
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
    }
    try:
        if request_type == "Delete":
            logger.info("delete: promoted copies are retained", extra={"physical_id": physical_id})
            return {**response, "Status": "SUCCESS", "PhysicalResourceId": physical_id}
        if request_type not in ("Create", "Update"):
            raise promote.PromotionError(f"RequestType {request_type!r}; allowed: Create, Update, Delete")
        request = promote.PromotionRequest.from_properties(event.get("ResourceProperties") or {})
        sagemaker, source_s3, dest_s3 = clients(request.registry_region)
        result = promote.promote(request, sagemaker=sagemaker, source_s3=source_s3, dest_s3=dest_s3)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        logger.exception("promotion failed", extra={"reason": reason})
        return {**response, "Status": "FAILED", "Reason": reason[:MAX_REASON], "PhysicalResourceId": physical_id}
    logger.info("promoted", extra=result.attributes())
    # The copy's location is the resource's identity: a new version is a replacement (and the old copy is kept).
    return {
        **response,
        "Status": "SUCCESS",
        "PhysicalResourceId": result.model_data_url,
        "Data": result.attributes(),
    }


def send(url: str, body: dict[str, Any]) -> None:
    """PUT ``body`` to the pre-signed response URL (an empty content type, as the URL was signed)."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is CloudFormation's pre-signed https URL
        url, data=data, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(data))}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
        logger.info("answered CloudFormation", extra={"status": reply.status})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one CloudFormation custom resource request."""
    body = handle(event)
    send(event["ResponseURL"], body)
    return body
