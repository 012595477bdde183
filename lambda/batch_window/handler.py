"""Lambda entry point of the batch arrival window (``handler.lambda_handler``).

Thin on purpose: configuration is validated at cold start and ``window.run_window`` does the work. The
schedule's payload carries nothing the function needs, so any invocation drains the queue once. AWS failures
propagate: the scheduler retries and the queued events stay for the next window.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import window
from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Fail the cold start with one clear message rather than fail every invocation later.
SETTINGS = window.Settings.from_env(os.environ)
logger = Logger(service=SETTINGS.service_name, level=SETTINGS.log_level)

BOTO_MAX_ATTEMPTS = 4


@cache
def aws_clients() -> window.AwsClients:
    """SQS, S3 and SageMaker clients, built once per container (botocore's standard retry mode)."""
    import boto3  # type: ignore[import-untyped, unused-ignore]
    from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]

    config = Config(retries={"mode": "standard", "max_attempts": BOTO_MAX_ATTEMPTS}, connect_timeout=5, read_timeout=30)
    region = SETTINGS.expected_region
    return window.AwsClients(
        sqs=boto3.client("sqs", region_name=region, config=config),
        s3=boto3.client("s3", region_name=region, config=config),
        sagemaker=boto3.client("sagemaker", region_name=region, config=config),
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Drain this window's new-data events and start the batch pipeline once if any arrived."""
    outcome = window.run_window(SETTINGS, aws_clients(), logger)
    logger.info(f"batch window {outcome.status}", extra=outcome.as_result())
    return outcome.as_result()
