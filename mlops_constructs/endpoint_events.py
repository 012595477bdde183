"""Operators hear about an endpoint's deployments, its automatic rollbacks included.

When a rollback alarm trips while an update bakes, SageMaker shifts traffic back to the old fleet ("Auto-Rollback
Configuration and Monitoring") and the endpoint stays on its old configuration; SageMaker's deployment events say
so as it happens, while CloudFormation only reports the failed update afterwards (docs/serving.md, "When SageMaker
rolls a deployment back").
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.dead_letters import EventDeadLetters

DEPLOYMENT_STATE_CHANGE: Final = "SageMaker Endpoint Deployment State Change"
"""The EventBridge detail-type of an endpoint's blue/green deployment progress, rollbacks included ("Events that
Amazon SageMaker AI sends to Amazon EventBridge", Endpoint deployment state change)."""


class DeploymentNotifications(Construct):
    """Sends the deployment state changes of the endpoint named ``endpoint_name`` to ``topic``.

    Matches the derived name, so the rule exists before the endpoint and follows it when the name changes.
    Undeliverable events (after up to 10 retries over 6 hours) go to ``dead_letter_queue``, an SQS queue encrypted
    with ``dead_letter_key``, whose key policy must let events.amazonaws.com use it (the data stack's does, as it
    does for the encrypted topic: "Authorizing EventBridge to use a customer managed key").
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        topic: sns.ITopic,
        dead_letter_key: kms.IKey,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """``removal_policy`` (of the dead-letter queue) defaults to RETAIN."""
        super().__init__(scope, construct_id)
        # The shared dead-letter queue of EventBridge targets, with its alarm on the same topic.
        self.dead_letters = EventDeadLetters(
            self,
            "DeadLetters",
            key=dead_letter_key,
            purpose=f"deployment events of {endpoint_name}",
            alarm_topic=topic,
            removal_policy=removal_policy,
        )
        self.dead_letter_queue = self.dead_letters.queue
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"{endpoint_name}: deployment progress and rollbacks to the notification topic",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[DEPLOYMENT_STATE_CHANGE],
                detail={"EndpointName": [endpoint_name]},
            ),
        )
        self.rule.add_target(
            targets.SnsTopic(
                topic, dead_letter_queue=self.dead_letter_queue, retry_attempts=10, max_event_age=Duration.hours(6)
            )
        )
