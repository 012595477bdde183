"""Lambda entry point of the retraining trigger (``handler.lambda_handler``).

Thin on purpose: configuration is validated at cold start, the event is validated into a typed
trigger, and ``retrain.handle_trigger`` does the rest. Rejections return normally so that
asynchronous retries do not repeat them; AWS failures propagate so the invocation lands in the
dead-letter queue.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import retrain
from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Fail the cold start with one clear message rather than fail every invocation later.
SETTINGS = retrain.Settings.from_env(os.environ)
logger = Logger(service=SETTINGS.service_name, level=SETTINGS.log_level)

# botocore's standard mode retries throttling and 5xx with jittered backoff; retrain's own
# bounded retry only sits on top of it.
BOTO_MAX_ATTEMPTS = 4  # retries after the first call: 5 attempts in all


@cache
def aws_clients() -> retrain.AwsClients:
    """SageMaker and S3 clients, built once per container on first use.

    boto3 is imported here, not at module level: its import alone costs more than the
    100 ms budget for the module import, and a rejected event never needs it.
    """
    import boto3  # type: ignore[import-untyped, unused-ignore]
    from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]

    config = Config(
        retries={"mode": "standard", "max_attempts": BOTO_MAX_ATTEMPTS},
        connect_timeout=5,
        read_timeout=20,
    )
    region = SETTINGS.expected_region
    return retrain.AwsClients(
        sagemaker=boto3.client("sagemaker", region_name=region, config=config),
        s3=boto3.client("s3", region_name=region, config=config),
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, str]:
    """Validate the event, start the training pipeline if the guards allow, report what happened."""
    try:
        trigger = retrain.parse_event(event, SETTINGS)
    except retrain.EventRejectedError as rejected:
        logger.warning("retrain trigger rejected", extra=rejected.log_fields(event))
        return {"status": "rejected", "code": rejected.code, "detail": rejected.detail}
    outcome = retrain.handle_trigger(
        trigger,
        settings=SETTINGS,
        clients=aws_clients(),
        clock=retrain.utc_now,
        logger=logger,
    )
    logger.info(f"retrain trigger {outcome.status}", extra=outcome.log_fields(trigger))
    result: dict[str, str] = outcome.as_result()
    return result
