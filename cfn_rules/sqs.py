"""SQS queues and the Lambda functions that read them: FIFO queue names and event source batching.

cfn-lint's own rules already cover part of this family and the project does not repeat them: E3501 (a FIFO
queue's name ends in ``.fifo``), E3502 (a dead-letter queue of the source queue's type, both in the template),
E3505 (the queue's visibility timeout at least the consuming function's timeout) and E3705 (``BatchSize`` at most
10 on a FIFO queue of the template). The rules here add what those leave out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import as_int, is_true, properties, resource_of, resources

QUEUE = "AWS::SQS::Queue"
FIFO_SUFFIX = ".fifo"
QUEUE_NAME_MAX = 80
FIFO_BATCH_MAX = 10
DEFAULT_BATCH_SIZE = 10  # what Lambda uses for SQS when BatchSize is left out


def queue_is_fifo(template: Mapping[str, Any], value: Any) -> bool | None:
    """Whether the queue ``value`` names (Ref/GetAtt to a queue of the template, or a literal ARN/URL) is FIFO.

    ``None`` when it cannot be told from the template (a cross-stack reference, a parameter).
    """
    found = resource_of(template, value, QUEUE)
    if found:
        return is_true(properties(found[1]).get("FifoQueue"))
    if isinstance(value, str) and (value.startswith("arn:") or value.startswith("https://sqs.")):
        return value.endswith(FIFO_SUFFIX)
    return None


def is_sqs_source(template: Mapping[str, Any], value: Any) -> bool:
    """Whether an event source ARN is an SQS queue (of this template, or a literal ``arn:...:sqs:`` ARN)."""
    if resource_of(template, value, QUEUE):
        return True
    return isinstance(value, str) and value.split(":")[2:3] == ["sqs"]


class FifoQueueName(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A queue name has at most 80 characters, ``.fifo`` included; only FIFO queues end in ``.fifo``.

    AWS doc: "Amazon SQS FIFO queue quotas", Queue name: the name of a FIFO queue must end with the ``.fifo``
    suffix, the suffix counts towards the 80-character queue name quota, and the suffix is how a queue is told to
    be FIFO (so a standard queue must not carry it). cfn-lint's E3501 checks that a FIFO queue's name ends in
    ``.fifo``; its schema has no length limit for QueueName. Judged on literal names (CDK derives them at synth,
    from the stack and construct path, so a long model name can push them over).
    """

    id = "E9040"
    shortdesc = "Queue name over 80 characters, or .fifo on a standard queue"
    description = "Queue names have at most 80 characters, .fifo included; only FIFO queues end in .fifo"
    source_url = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-fifo.html"
    tags = ["mlops", "sqs", "fifo"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every queue with a literal QueueName."""
        matches = []
        for logical_id, resource in resources(cfn.template, QUEUE):
            props = properties(resource)
            name = props.get("QueueName")
            if not isinstance(name, str):
                continue
            path = ["Resources", logical_id, "Properties", "QueueName"]
            fifo = is_true(props.get("FifoQueue"))
            if not fifo and name.endswith(FIFO_SUFFIX):
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical_id}: {name!r} ends with '.fifo' but FifoQueue is not "
                        "true (Amazon SQS FIFO queue quotas, Queue name)",
                    )
                )
            if len(name) > QUEUE_NAME_MAX:
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical_id}: queue name of {len(name)} characters, over the "
                        f"{QUEUE_NAME_MAX} quota, '.fifo' included (Amazon SQS FIFO queue quotas)",
                    )
                )
        return matches


def _sqs_mappings(template: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for logical_id, resource in resources(template, "AWS::Lambda::EventSourceMapping"):
        props = properties(resource)
        if is_sqs_source(template, props.get("EventSourceArn")):
            yield logical_id, props


class SqsEventSourceBatching(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """Batch settings of an SQS event source mapping that Lambda accepts for the queue's type.

    AWS doc: "Lambda parameters for Amazon SQS event source mappings": ``BatchSize`` at most 10 for FIFO queues
    (10,000 for standard ones); a batching window (``MaximumBatchingWindowInSeconds``) is not supported for FIFO
    queues. API reference "CreateEventSourceMapping", ``MaximumBatchingWindowInSeconds``: for SQS event sources a
    ``BatchSize`` over 10 needs a batching window of at least 1 second. The 0-300 range is in cfn-lint's schema
    and its E3705 checks the FIFO batch size when the queue is in the template, so this rule checks the batch size
    only for FIFO queues named by ARN, and the batching window in both cases.
    """

    id = "E9042"
    shortdesc = "SQS event source mapping batch settings the queue type does not allow"
    description = "FIFO: BatchSize <= 10 and no batching window; BatchSize > 10 needs a batching window >= 1"
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html"
    tags = ["mlops", "lambda", "sqs"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every event source mapping that reads an SQS queue."""
        matches = []
        for logical_id, props in _sqs_mappings(cfn.template):
            base = ["Resources", logical_id, "Properties"]
            batch = as_int(props.get("BatchSize"))
            batch = DEFAULT_BATCH_SIZE if props.get("BatchSize") is None else batch
            window = as_int(props.get("MaximumBatchingWindowInSeconds"))
            fifo = queue_is_fifo(cfn.template, props.get("EventSourceArn"))
            by_arn = resource_of(cfn.template, props.get("EventSourceArn"), QUEUE) is None
            if fifo and by_arn and batch is not None and batch > FIFO_BATCH_MAX:
                matches.append(
                    RuleMatch(
                        [*base, "BatchSize"],
                        f"{logical_id}: BatchSize {batch} on a FIFO queue; "
                        "the maximum is 10 (Lambda parameters for Amazon SQS event source mappings)",
                    )
                )
            if fifo and window:
                matches.append(
                    RuleMatch(
                        [*base, "MaximumBatchingWindowInSeconds"],
                        f"{logical_id}: a batching "
                        "window is not supported for FIFO queues (Lambda parameters for Amazon SQS "
                        "event source mappings)",
                    )
                )
            if not fifo and batch is not None and batch > FIFO_BATCH_MAX and not window:
                matches.append(
                    RuleMatch(
                        [*base, "BatchSize"],
                        f"{logical_id}: BatchSize {batch} over 10 needs "
                        "MaximumBatchingWindowInSeconds of at least 1 (CreateEventSourceMapping)",
                    )
                )
        return matches
