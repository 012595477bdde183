"""Lambda entry point of the retraining trigger (``handler.lambda_handler``).

Thin on purpose: configuration is validated at cold start; the function is invoked by the event source mapping of
the pipeline's SQS FIFO trigger queue, one message group, so one batch at a time. Powertools' FIFO batch processor
hands each record to ``record_handler`` in order and reports failures as a partial batch response: after the first
failed record, that record and every later one go back to the queue, in order. A record is validated into a typed
trigger and ``retrain.handle_trigger`` does the rest. Rejections (a malformed body, an event that is not a trigger
for this model) are logged and return normally, so the message is deleted and never retried; AWS failures raise,
so the record is retried until the queue dead-letters it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

import queue_records
import retrain
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Fail the cold start with one clear message rather than fail every invocation later.
SETTINGS = retrain.Settings.from_env(os.environ)
logger = Logger(service=SETTINGS.service_name, level=SETTINGS.log_level)
processor = SqsFifoPartialProcessor()


@cache
def aws_clients() -> retrain.AwsClients:
    """SageMaker and S3 clients, built once per container on first use.

    boto3 is imported here, not at module level: its import alone costs more than the
    100 ms budget for the module import, and a rejected event never needs it.
    """
    import boto3  # type: ignore[import-untyped, unused-ignore]

    # botocore's standard retry mode is the only retry (``retrain.client_config``).
    config = retrain.client_config()
    region = SETTINGS.expected_region
    return retrain.AwsClients(
        sagemaker=boto3.client("sagemaker", region_name=region, config=config),
        s3=boto3.client("s3", region_name=region, config=config),
    )


def record_handler(record: SQSRecord) -> dict[str, str]:
    """Validate one queued trigger, start the training pipeline if the guards allow, report what happened."""
    raw: Mapping[str, Any] = record.raw_event
    message_id = str(raw.get("messageId", ""))
    try:
        event = queue_records.trigger_event(raw, SETTINGS)
        trigger = retrain.parse_event(event, SETTINGS)
    except retrain.EventRejectedError as rejected:
        body = raw.get("body")
        logger.warning(
            "retrain trigger rejected",
            extra={**rejected.log_fields(body if isinstance(body, str) else raw), "message_id": message_id},
        )
        return {"status": "rejected", "code": rejected.code, "detail": rejected.detail}
    outcome = retrain.handle_trigger(
        trigger,
        settings=SETTINGS,
        clients=aws_clients(),
        clock=retrain.utc_now,
        logger=logger,
    )
    logger.info(f"retrain trigger {outcome.status}", extra={**outcome.log_fields(trigger), "message_id": message_id})
    result: dict[str, str] = outcome.as_result()
    return result


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Handle a batch of the trigger queue in order; return the partial batch response."""
    try:
        queue_records.check_batch(event)
    except retrain.EventRejectedError as rejected:
        # Not an SQS batch (for example a direct invocation): nothing to retry and nothing to act on.
        logger.warning("retrain trigger rejected", extra=rejected.log_fields(event))
        return {"batchItemFailures": []}
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
