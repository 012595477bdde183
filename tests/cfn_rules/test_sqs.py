"""E9040-E9043: FIFO queue names, dead-letter queue types, SQS event source batching and visibility timeouts."""

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


def test_fifo_queue_names_without_the_suffix_over_80_characters_or_on_a_standard_queue_fire() -> None:
    assert fired(template(Queue=_queue(True, QueueName="mlops-dev-trigger"))) == ["E9040"]
    assert fired(template(Queue=_queue(True, QueueName="q" * 76 + ".fifo"))) == ["E9040"]
    assert fired(template(Queue=_queue(QueueName="mlops-dev-trigger.fifo"))) == ["E9040"]


def test_fifo_queue_named_within_the_quota_or_a_generated_name_passes() -> None:
    assert fired(template(Queue=_queue(True, QueueName="q" * 75 + ".fifo"))) == []
    assert fired(template(Queue=_queue(True, QueueName="mlops-dev-trigger.fifo", FifoQueue="true"))) == []
    assert fired(template(Queue=_queue(QueueName="mlops-dev-standard"))) == []
    assert fired(template(Queue=_queue(True))) == []


def _with_dlq(source_fifo: bool, dlq_fifo: bool) -> dict[str, Any]:
    redrive = {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 5}
    return template(
        Queue=_queue(source_fifo, RedrivePolicy=redrive, **({"QueueName": "src.fifo"} if source_fifo else {})),
        Dlq=_queue(dlq_fifo, **({"QueueName": "dlq.fifo"} if dlq_fifo else {})),
    )


def test_dead_letter_queue_of_the_other_type_fires() -> None:
    assert fired(_with_dlq(source_fifo=True, dlq_fifo=False)) == ["E9041"]
    assert fired(_with_dlq(source_fifo=False, dlq_fifo=True)) == ["E9041"]
    literal = template(Queue=_queue(RedrivePolicy={"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:1:dlq.fifo"}))
    assert fired(literal) == ["E9041"]


def test_dead_letter_queue_of_the_same_type_or_unknown_passes() -> None:
    assert fired(_with_dlq(source_fifo=True, dlq_fifo=True)) == []
    assert fired(_with_dlq(source_fifo=False, dlq_fifo=False)) == []
    cross_stack = {"Fn::GetStackOutput": {"StackName": "s", "Region": "eu-west-1", "OutputName": "DlqArn"}}
    assert fired(template(Queue=_queue(RedrivePolicy={"deadLetterTargetArn": cross_stack}))) == []


def _consumer(queue: dict[str, Any], mapping: dict[str, Any], timeout: int = 60) -> dict[str, Any]:
    return template(Queue=queue, Fn=_function(timeout), Mapping=mapping)


FIFO = _queue(True, QueueName="trigger.fifo", VisibilityTimeout=720)
STANDARD = _queue(VisibilityTimeout=720)


def test_fifo_event_source_with_a_big_batch_or_a_batching_window_fires() -> None:
    assert fired(_consumer(FIFO, _mapping(BatchSize=11))) == ["E9042"]
    assert fired(_consumer(FIFO, _mapping(BatchSize=1, MaximumBatchingWindowInSeconds=30))) == ["E9042"]
    by_arn = _mapping(EventSourceArn="arn:aws:sqs:eu-west-1:111111111111:other.fifo", BatchSize=20)
    assert fired(_consumer(FIFO, by_arn)) == ["E9042"]


def test_standard_event_source_with_a_batch_over_10_and_no_window_fires() -> None:
    assert fired(_consumer(STANDARD, _mapping(BatchSize=100))) == ["E9042"]
    assert fired(_consumer(STANDARD, _mapping(BatchSize=100, MaximumBatchingWindowInSeconds=0))) == ["E9042"]


def test_event_source_batching_the_queue_type_allows_passes() -> None:
    assert fired(_consumer(FIFO, _mapping(BatchSize=10))) == []
    assert fired(_consumer(FIFO, _mapping())) == []
    assert fired(_consumer(STANDARD, _mapping(BatchSize=100, MaximumBatchingWindowInSeconds=5))) == []
    # Kinesis and other sources are not SQS: the SQS limits do not apply.
    kinesis = _mapping(EventSourceArn="arn:aws:kinesis:eu-west-1:111111111111:stream/s", BatchSize=100)
    assert fired(_consumer(STANDARD, kinesis)) == []


def test_visibility_timeout_below_the_function_timeout_fires() -> None:
    assert fired(_consumer(_queue(VisibilityTimeout=60), _mapping(), timeout=120)) == ["E9043"]
    # The queue default is 30 s.
    assert fired(_consumer(_queue(), _mapping(), timeout=60)) == ["E9043"]


def test_visibility_timeout_covering_the_function_timeout_passes() -> None:
    assert fired(_consumer(_queue(VisibilityTimeout=720), _mapping(), timeout=120)) == []
    assert fired(_consumer(_queue(VisibilityTimeout="120"), _mapping(), timeout=120)) == []
    # The function default is 3 s; a function of another stack cannot be judged.
    assert fired(template(Queue=_queue(), Fn=_function(), Mapping=_mapping())) == []
    elsewhere = _mapping(FunctionName="arn:aws:lambda:eu-west-1:111111111111:function:f")
    assert fired(template(Queue=_queue(VisibilityTimeout=1), Mapping=elsewhere)) == []
