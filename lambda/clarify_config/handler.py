"""Lambda entry point of the served model's Clarify analysis config (``handler.on_event``, a CDK Provider handler).

Thin: parse the custom-resource event, write the config on Create and Update, return the physical ID. Delete leaves
the object (a few hundred bytes in the retained reports bucket; the next Create overwrites it). Errors propagate:
the Provider framework reports them to CloudFormation, which fails (and rolls back) the deploy with the message.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import analysis_config
from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "clarify-config"))


@cache
def s3_client() -> Any:
    """The S3 client, built once per container on first use."""
    import boto3  # type: ignore[import-untyped, unused-ignore]

    return boto3.client("s3")


@logger.inject_lambda_context(clear_state=True)
def on_event(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Write (Create, Update) or keep (Delete) the analysis config of the served model."""
    request = analysis_config.parse_event(event)
    if request.request_type == "Delete":
        logger.info("left in place", extra={"config": event.get("PhysicalResourceId")})
        return {"PhysicalResourceId": event.get("PhysicalResourceId") or request.target_uri}
    uri = analysis_config.write_for_served_model(s3_client(), request)
    logger.info("written", extra={"config": uri, "model_name": request.model_name})
    return {"PhysicalResourceId": uri, "Data": {"ConfigUri": uri}}
