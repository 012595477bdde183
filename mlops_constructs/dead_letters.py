"""Where EventBridge puts the events it could not deliver, and who hears about them.

Every EventBridge rule target in the platform has a dead-letter queue ("Using dead-letter queues to process
undelivered events in EventBridge": without one, an event whose target fails after the retry policy is dropped).
The queue is a standard queue (EventBridge does not deliver to FIFO dead-letter queues), encrypted with a KMS key
whose policy lets ``events.amazonaws.com`` use it (SQS "Key management": senders to an encrypted queue need
``kms:GenerateDataKey`` and ``kms:Decrypt``); the data stack's key has that statement, a key made elsewhere must
say so (:meth:`EventDeadLetters.allow_eventbridge_on_key`). One alarm per queue tells the operators.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.nag import acknowledge


class EventDeadLetters(Construct):
    """A KMS-encrypted, TLS-only standard queue for undelivered events, with an alarm on ``alarm_topic``.

    Pass ``queue`` as the ``dead_letter_queue`` of rule targets: CDK then adds the queue policy statement that lets
    EventBridge send to it from exactly that rule (``aws:SourceArn``). Messages are kept 14 days (SQS's maximum);
    ``removal_policy`` defaults to retain. ``alarm_topic`` defaults to none (no alarm).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        purpose: str,
        alarm_topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            f"This queue is itself the dead-letter queue of EventBridge targets: {purpose}.",
        )
        self.alarm: cloudwatch.Alarm | None = None
        if alarm_topic is not None:
            self.alarm = cloudwatch.Alarm(
                self,
                "Alarm",
                alarm_description=f"Undelivered events ({purpose}): read them from the dead-letter queue",
                metric=self.queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))

    @staticmethod
    def allow_eventbridge_on_key(key: kms.Key) -> None:
        """Let EventBridge of ``key``'s own account encrypt dead letters with ``key`` (and nothing else)."""
        stack = Stack.of(key)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeDeadLettersUseKey",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
