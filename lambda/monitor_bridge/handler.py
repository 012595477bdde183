"""Lambda entry point of the Model Monitor bridge (``handler.lambda_handler``).

Thin: settings are checked at cold start, the event is parsed, ``bridge`` translates the report into the
metric contract, and the data points go to CloudWatch. Events for other objects return normally (logged), so
that nothing is retried for them; AWS failures propagate, so EventBridge retries the delivery.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import bridge
from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SETTINGS = bridge.BridgeSettings.from_env(os.environ)
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "monitor-bridge"))


@cache
def aws_clients() -> tuple[Any, Any]:
    """S3 and CloudWatch clients, built once per container on first use."""
    import boto3  # type: ignore[import-untyped, unused-ignore]

    return boto3.client("s3"), boto3.client("cloudwatch")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Translate one Model Monitor report file into contract metrics and publish them."""
    try:
        report = bridge.parse_event(event, SETTINGS)
    except bridge.EventRejectedError as rejected:
        logger.warning("event ignored", extra={"reason": str(rejected)})
        return {"status": "ignored", "reason": str(rejected)}
    s3, cloudwatch = aws_clients()
    try:
        data = bridge.translate(report, bridge.read_json(s3, report), SETTINGS)
    except bridge.ReportRejectedError as untrusted:
        # One structured line naming the object and field; re-raised so the invocation fails into the DLQ.
        logger.error("report rejected, nothing published", extra=untrusted.log_fields())
        raise
    sent = bridge.publish(cloudwatch, data)
    logger.info("published contract metrics", extra={"key": report.key, "kind": report.kind, "data_points": sent})
    return {"status": "published", "kind": report.kind, "data_points": sent}
