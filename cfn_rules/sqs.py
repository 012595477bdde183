"""SQS queues and the Lambda functions that read them: FIFO names, dead-letter queue types, batches, visibility."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import as_int, is_true, properties, resource_of, resources

QUEUE = "AWS::SQS::Queue"
FUNCTION = "AWS::Lambda::Function"
FIFO_SUFFIX = ".fifo"
QUEUE_NAME_MAX = 80
FIFO_BATCH_MAX = 10
# Defaults CloudFormation applies when the property is left out.
DEFAULT_BATCH_SIZE = 10
DEFAULT_VISIBILITY_TIMEOUT = 30
DEFAULT_FUNCTION_TIMEOUT = 3


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
    """A FIFO queue's name ends in ``.fifo`` and has at most 80 characters; only FIFO queues end in ``.fifo``.

    AWS doc: "Amazon SQS FIFO queue quotas", Queue name: the name of a FIFO queue must end with the ``.fifo``
    suffix, and the suffix counts towards the 80-character queue name quota; the suffix is how a queue is told
    to be FIFO. ``AWS::SQS::Queue`` QueueName repeats it. Judged on literal names (CDK derives them at synth).
    """

    id = "E9040"
    shortdesc = "FIFO queue name without the .fifo suffix or over 80 characters"
    description = "A FIFO queue name ends with .fifo, suffix included at most 80 characters"
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
            if fifo and not name.endswith(FIFO_SUFFIX):
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical_id} is FIFO: its name {name!r} must end with '.fifo' "
                        "(Amazon SQS FIFO queue quotas, Queue name)",
                    )
                )
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


def _redrive_target(props: Mapping[str, Any]) -> Any:
    policy = props.get("RedrivePolicy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    return policy.get("deadLetterTargetArn") if isinstance(policy, Mapping) else None


class DeadLetterQueueTypeMatches(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A queue's dead-letter queue is of its own type: FIFO for a FIFO queue, standard for a standard queue.

    AWS doc: "Configure a dead-letter queue using the Amazon SQS console" (linked from "Using dead-letter queues in
    Amazon SQS"): the queue type must match the source queue type; a FIFO queue can only use a FIFO DLQ and a
    standard queue only a standard DLQ. Judged when the dead-letter queue is in the template or a literal ARN.
    """

    id = "E9041"
    shortdesc = "SQS dead-letter queue of the other queue type"
    description = "A FIFO queue needs a FIFO dead-letter queue, a standard queue a standard one"
    source_url = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue.html"
    tags = ["mlops", "sqs", "fifo"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every queue with a RedrivePolicy whose target's type can be told."""
        matches = []
        for logical_id, resource in resources(cfn.template, QUEUE):
            props = properties(resource)
            target = _redrive_target(props)
            target_fifo = queue_is_fifo(cfn.template, target)
            if target is None or target_fifo is None:
                continue
            fifo = is_true(props.get("FifoQueue"))
            if fifo != target_fifo:
                kinds = ("FIFO", "standard") if fifo else ("standard", "FIFO")
                matches.append(
                    RuleMatch(
                        ["Resources", logical_id, "Properties", "RedrivePolicy"],
                        f"{logical_id} is a {kinds[0]} queue with a {kinds[1]} dead-letter queue: the types must "
                        "match (Configure a dead-letter queue using the Amazon SQS console)",
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
    ``BatchSize`` over 10 needs a batching window of at least 1 second. The 0-300 range itself is in cfn-lint's
    schema for the property, so it is not repeated here.
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
            if fifo and batch is not None and batch > FIFO_BATCH_MAX:
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


class QueueVisibilityCoversFunctionTimeout(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """An SQS queue read by a Lambda function keeps messages invisible at least as long as the function may run.

    AWS doc: "Creating and configuring an Amazon SQS event source mapping": the function's timeout must be less
    than or equal to the queue's visibility timeout, which Lambda validates when it creates or updates the
    mapping (and fails it otherwise); AWS recommends at least six times the function timeout. Judged when the
    queue and the function are both in the template (defaults: visibility 30 s, function timeout 3 s).
    """

    id = "E9043"
    shortdesc = "SQS visibility timeout shorter than the consuming function's timeout"
    description = "Lambda refuses an SQS event source whose visibility timeout is below the function timeout"
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
    tags = ["mlops", "lambda", "sqs"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every SQS event source mapping whose queue and function are in the template."""
        matches = []
        for logical_id, props in _sqs_mappings(cfn.template):
            queue = resource_of(cfn.template, props.get("EventSourceArn"), QUEUE)
            function = resource_of(cfn.template, props.get("FunctionName"), FUNCTION)
            if not queue or not function:
                continue
            visibility = as_int(properties(queue[1]).get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT))
            timeout = as_int(properties(function[1]).get("Timeout", DEFAULT_FUNCTION_TIMEOUT))
            if visibility is not None and timeout is not None and timeout > visibility:
                matches.append(
                    RuleMatch(
                        ["Resources", queue[0], "Properties"],
                        f"{queue[0]}: VisibilityTimeout {visibility} s is below the {timeout} s timeout of "
                        f"{function[0]}, which reads it through {logical_id}; Lambda refuses the mapping (at "
                        "least 6x recommended; Creating and configuring an Amazon SQS event source mapping)",
                    )
                )
        return matches
