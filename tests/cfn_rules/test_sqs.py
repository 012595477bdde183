"""E9040 (queue names) and E9042 (SQS event source batching); cfn-lint's E3501/E3502/E3505/E3705 cover the rest."""

from __future__ import annotations

from typing import Any

from tests.cfn_rules.lint_helpers import fired, template

QUEUE_ARN = {"Fn::GetAtt": ["Queue", "Arn"]}


def _queue(fifo: bool = False, **props: Any) -> dict[str, Any]:
    if fifo:
        props = {"FifoQueue": True, **props}
    return {"Type": "AWS::SQS::Queue", "Properties": props}


def _function(timeout: int | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"Handler": "index.handler", "Runtime": "python3.12", "Role": "arn:aws:iam::1:role/r"}
    if timeout is not None:
        props["Timeout"] = timeout
    return {"Type": "AWS::Lambda::Function", "Properties": props}


def _mapping(**props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {"EventSourceArn": QUEUE_ARN, "FunctionName": {"Ref": "Fn"}, **props},
    }


def test_queue_names_over_80_characters_or_fifo_suffix_on_a_standard_queue_fire() -> None:
    assert fired(template(Queue=_queue(True, QueueName="q" * 76 + ".fifo"))) == ["E9040"]
    assert fired(template(Queue=_queue(QueueName="mlops-dev-trigger.fifo"))) == ["E9040"]


def test_fifo_queue_named_within_the_quota_or_a_generated_name_passes() -> None:
    assert fired(template(Queue=_queue(True, QueueName="q" * 75 + ".fifo"))) == []
    # A FIFO queue named without the suffix is cfn-lint's own E3501.
    assert fired(template(Queue=_queue(True, QueueName="mlops-dev-trigger"))) == []
    assert fired(template(Queue=_queue(True, QueueName="mlops-dev-trigger.fifo", FifoQueue="true"))) == []
    assert fired(template(Queue=_queue(QueueName="mlops-dev-standard"))) == []
    assert fired(template(Queue=_queue(True))) == []


def _consumer(queue: dict[str, Any], mapping: dict[str, Any], timeout: int = 60) -> dict[str, Any]:
    return template(Queue=queue, Fn=_function(timeout), Mapping=mapping)


FIFO = _queue(True, QueueName="trigger.fifo", VisibilityTimeout=720)
STANDARD = _queue(VisibilityTimeout=720)


def test_fifo_event_source_with_a_batching_window_or_a_big_batch_by_arn_fires() -> None:
    assert fired(_consumer(FIFO, _mapping(BatchSize=1, MaximumBatchingWindowInSeconds=30))) == ["E9042"]
    by_arn = _mapping(EventSourceArn="arn:aws:sqs:eu-west-1:111111111111:other.fifo", BatchSize=20)
    assert fired(_consumer(FIFO, by_arn)) == ["E9042"]


def test_standard_event_source_with_a_batch_over_10_and_no_window_fires() -> None:
    assert fired(_consumer(STANDARD, _mapping(BatchSize=100))) == ["E9042"]
    assert fired(_consumer(STANDARD, _mapping(BatchSize=100, MaximumBatchingWindowInSeconds=0))) == ["E9042"]


def test_event_source_batching_the_queue_type_allows_passes() -> None:
    assert fired(_consumer(FIFO, _mapping(BatchSize=10))) == []
    # A FIFO queue of the template with a batch over 10 is cfn-lint's own E3705.
    assert fired(_consumer(FIFO, _mapping(BatchSize=11))) == []
    assert fired(_consumer(FIFO, _mapping())) == []
    assert fired(_consumer(STANDARD, _mapping(BatchSize=100, MaximumBatchingWindowInSeconds=5))) == []
    # Kinesis and other sources are not SQS: the SQS limits do not apply.
    kinesis = _mapping(EventSourceArn="arn:aws:kinesis:eu-west-1:111111111111:stream/s", BatchSize=100)
    assert fired(_consumer(STANDARD, kinesis)) == []
