"""Retraining triggers: a guarded Lambda that restarts a model's training pipeline on drift, new data or a schedule.

``RetrainOnDrift`` builds the function (``lambda/retrain_trigger``), the SQS FIFO queue it reads its triggers from,
dead-letter queues and alarms, and up to three triggers: an EventBridge rule on the model's drift/quality alarms
entering ALARM, an EventBridge rule on new objects under the training-data prefix, and an EventBridge Scheduler
schedule. The triggers send to the queue, all in one message group, so the function handles one trigger of the
pipeline at a time without reserved concurrency. Every guard (nothing running, cool-down, daily cap, duplicate
events) lives in the function, which reads its state from SageMaker's execution history.

Which alarms retrain a model, and how those of serving environments in other accounts reach the training
environment's default event bus, is ``mlops_constructs.drift_alarm_routing`` (re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from aws_cdk import Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_config.retraining import RetrainingSettings
from mlops_constructs.drift_alarm_routing import (
    ALARM_DETAIL_TYPE,
    FEATURE_DRIFT,
    MODEL_QUALITY,
    AlarmForwarder,
    AlarmSource,
    ForwardedAlarmsBusPolicy,
    alarm_event_pattern,
    drift_alarm_kinds,
    forwarded_alarm_accounts,
    retrain_alarm_sources,
)
from mlops_constructs.lambda_runtime import (
    POWERTOOLS_LAYER_VERSION,
    acknowledge_pinned_runtime,
    python_function,
    reserve_concurrency,
)
from mlops_constructs.nag import acknowledge

__all__ = [
    "ALARM_DETAIL_TYPE",
    "FEATURE_DRIFT",
    "MODEL_QUALITY",
    "AlarmForwarder",
    "AlarmSource",
    "ForwardedAlarmsBusPolicy",
    "RetrainOnDrift",
    "alarm_event_pattern",
    "drift_alarm_kinds",
    "forwarded_alarm_accounts",
    "log_retention",
    "retrain_alarm_sources",
]

FUNCTION_DIR: Final = Path(__file__).resolve().parent.parent / "lambda" / "retrain_trigger"
SCHEDULER_SOURCE: Final = "mlops.scheduler"
SCHEDULER_DETAIL_TYPE: Final = "Scheduled Retrain"
# A trigger does two or three API calls; 120 s leaves room for botocore and the function's own bounded retries.
DEFAULT_TIMEOUT: Final = Duration.seconds(120)
# How long EventBridge and Scheduler keep retrying a delivery to the trigger queue before it goes to the DLQ.
DEFAULT_MAX_EVENT_AGE: Final = Duration.hours(6)
# Lambda ("Creating and configuring an Amazon SQS event source mapping"): the queue's visibility timeout at least six
# times the function's timeout (Lambda refuses a mapping whose function timeout exceeds it), so that a batch is never
# visible again, and handed to a second invocation, while one still runs.
VISIBILITY_TIMEOUT_FACTOR: Final = 6
# Receives of one trigger before it moves to the FIFO dead-letter queue and unblocks its message group (Lambda
# recommends at least 5 for an SQS event source, so that throttled receives don't dead-letter a message).
DEFAULT_MAX_RECEIVE_COUNT: Final = 5
# SQS queue names are at most 80 characters and a FIFO queue's end in ".fifo" ("Creating an Amazon SQS queue using
# CloudFormation"). CloudFormation's generated name for a FIFO queue (stack name, logical ID, random suffix, ".fifo")
# can pass 80 characters and fail the deploy (aws-cloudformation/cloudformation-coverage-roadmap#280), so the two
# FIFO queues get names derived from the construct path, short enough with their suffixes.
QUEUE_NAME_MAX: Final = 80


_RETENTION: Final = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """The CDK retention enum for ``days`` (one of the periods CloudWatch Logs accepts)."""
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(
            f"{days} days is not a CloudWatch Logs retention period; allowed: {sorted(_RETENTION)}"
        ) from None


class RetrainOnDrift(Construct):
    """The retraining trigger of one model in one training environment, with its triggers, queues and alarms.

    Creates: an arm64 Python function with the public Powertools layer and its own log group (``log_retention``,
    ``removal_policy``); the SQS FIFO trigger queue it reads through an event source mapping (``batch_size``,
    partial batch responses), with content-based deduplication and its own FIFO dead-letter queue after
    ``max_receive_count`` receives; a standard dead-letter queue for deliveries EventBridge and Scheduler could not
    make to the trigger queue; all queues encrypted with ``key`` and TLS-only; alarms on both dead-letter queues and
    on function errors to ``alarm_topic``; and, as ``settings`` enables them, the drift-alarm rule, the new-data rule
    and the schedule, each sending to the trigger queue in the one message group ``pipeline_name``.

    One trigger at a time: Lambda hands an SQS FIFO queue's messages of one message group to one invocation at a time
    and retries a failed batch before it reads more of that group ("Configuring scaling behavior for SQS event
    source mappings"), so two triggers never both see "nothing running". Reserved concurrency is an opt-in
    (``settings.reserved_concurrency``, default none).

    IAM: ``sagemaker:ListPipelineExecutions`` and ``sagemaker:StartPipelineExecution`` on the pipeline only,
    ``s3:ListBucket`` on ``data_bucket`` limited to ``data_prefix``, writing to its own log group, consuming the
    trigger queue (and decrypting with ``key``). No ``iam:PassRole``: the pipeline runs with its own role.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        environment_name: str,
        pipeline_name: str,
        pipeline_arn: str,
        data_bucket: s3.IBucket,
        data_prefix: str,
        key: kms.IKey,
        alarm_topic: sns.ITopic,
        settings: RetrainingSettings,
        schedule_name: str,
        alarm_sources: Sequence[AlarmSource] = (),
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        trigger_parameter_name: str = "TriggerReason",
        timeout: Duration = DEFAULT_TIMEOUT,
        retry_attempts: int = 2,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
        batch_size: int = 1,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        powertools_layer_version: int = POWERTOOLS_LAYER_VERSION,
    ) -> None:
        """``alarm_sources`` defaults to none (no drift rule); ``log_retention`` to three months; ``removal_policy``
        (log group and queues) to RETAIN; ``retry_attempts`` (rule and schedule deliveries to the trigger queue) to 2;
        ``max_event_age`` (of those deliveries) to 6 hours; ``batch_size`` (triggers per invocation) to 1;
        ``max_receive_count`` to 5; the Powertools layer version to ``POWERTOOLS_LAYER_VERSION``.
        """
        super().__init__(scope, construct_id)
        if not data_prefix or data_prefix.startswith("/") or not data_prefix.endswith("/"):
            raise ValueError(f"data_prefix {data_prefix!r}: expected a relative prefix ending with '/'")
        if not 0 <= retry_attempts <= 2:
            raise ValueError(f"retry_attempts {retry_attempts}: expected 0-2 retries of a delivery")
        if not Duration.minutes(1).to_seconds() <= max_event_age.to_seconds() <= Duration.hours(6).to_seconds():
            raise ValueError("max_event_age: expected 1 minute to 6 hours")
        # Lambda parameters for Amazon SQS event source mappings: at most 10 messages per batch for a FIFO queue.
        if not 1 <= batch_size <= 10:
            raise ValueError(f"batch_size {batch_size}: a FIFO event source takes 1-10 messages per batch")
        if not 1 <= max_receive_count <= 1000:
            raise ValueError(f"max_receive_count {max_receive_count}: SQS allows 1-1000")
        stack = Stack.of(self)
        self.settings = settings
        self.alarm_sources = tuple(alarm_sources)
        self.alarm_names = tuple(name for source in self.alarm_sources for name in source.alarm_names)
        self.message_group_id = pipeline_name
        new_data = settings.new_data

        # Deliveries EventBridge and Scheduler could not make to the trigger queue. Both services take only a standard
        # queue as a dead-letter queue ("Using dead-letter queues to process undelivered events in EventBridge",
        # "Configuring a schedule's dead-letter queue in EventBridge Scheduler").
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue of the retrain rule and schedule deliveries to the trigger queue.",
        )
        # Triggers the function failed on max_receive_count times; a FIFO queue's dead-letter queue must be FIFO too
        # ("Using dead-letter queues in Amazon SQS").
        self.trigger_dead_letter_queue = sqs.Queue(
            self,
            "TriggerDeadLetterQueue",
            queue_name=self._fifo_queue_name("dlq"),
            fifo=True,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.trigger_dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue of the retrain trigger queue.",
        )
        # Content-based deduplication: EventBridge Scheduler requires it of a FIFO target ("SqsParameters", Scheduler
        # API reference), and a classic rule target cannot set a deduplication id. A redelivered event has the same
        # body and is dropped for 5 minutes; the function's own event-hash guard covers any later redelivery.
        self.trigger_queue = sqs.Queue(
            self,
            "TriggerQueue",
            queue_name=self._fifo_queue_name("trigger"),
            fifo=True,
            content_based_deduplication=True,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.trigger_dead_letter_queue, max_receive_count=max_receive_count
            ),
            removal_policy=removal_policy,
        )

        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=removal_policy, encryption_key=key
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Retrain trigger of {model_name} ({environment_name}): starts its training pipeline",
        )
        # An explicit grant on the function's own log group instead of the basic execution managed policy.
        self.log_group.grant_write(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="StartTrainingPipeline",
                actions=["sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"],
                resources=[pipeline_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="CountNewTrainingData",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": f"{data_prefix}*"}},
            )
        )

        self.function = python_function(
            self,
            "Function",
            description=f"Restarts the {model_name} training pipeline ({environment_name}) on drift, data, schedule",
            code_dir=FUNCTION_DIR,
            powertools_version=powertools_layer_version,
            role=self.role,
            log_group=self.log_group,
            memory_size=256,
            timeout=timeout,
            environment={
                "PIPELINE_NAME": pipeline_name,
                "MODEL_NAME": model_name,
                "ENVIRONMENT_NAME": environment_name,
                "EXPECTED_ACCOUNT": stack.account,
                "EXPECTED_REGION": stack.region,
                "ALARM_NAMES": json.dumps(list(self.alarm_names)),
                "ALARM_SOURCES": json.dumps(
                    sorted(
                        {
                            f"{source.account}:{source.region}"
                            for source in self.alarm_sources
                            if (source.account, source.region) != (stack.account, stack.region)
                        }
                    )
                ),
                "DATA_BUCKET": data_bucket.bucket_name,
                "DATA_PREFIX": data_prefix,
                # The function reads both thresholds on every trigger; a disabled new-data trigger still counts.
                "MIN_NEW_OBJECTS": str(new_data.min_new_objects),
                "MIN_NEW_BYTES": str(new_data.min_new_bytes),
                "COOLDOWN_MINUTES": str(settings.cooldown_minutes),
                "DAILY_CAP": str(settings.daily_cap),
                "TRIGGER_PARAMETER_NAME": trigger_parameter_name,
                "POWERTOOLS_SERVICE_NAME": f"retrain-trigger-{model_name}",
                "LOG_LEVEL": "INFO",
            },
        )
        reserve_concurrency(self.function, settings.reserved_concurrency)
        acknowledge_pinned_runtime(self.function)
        # Partial batch responses: the handler reports the triggers it failed on, so the ones it handled are deleted
        # and a failing one is retried alone until it dead-letters ("Handling errors for an SQS event source in
        # Lambda"). CDK grants consuming the queue and kms:Decrypt on its key.
        self.event_source = event_sources.SqsEventSource(
            self.trigger_queue, batch_size=batch_size, report_batch_item_failures=True
        )
        self.function.add_event_source(self.event_source)
        self._depend_on_policy_only()

        self.rules: dict[str, events.Rule] = {}
        if self.alarm_names:
            self.rules["drift"] = self._rule(
                "OnDriftAlarm",
                f"{model_name} drift/quality alarms entering ALARM restart its training",
                alarm_event_pattern(self.alarm_names, [source.account for source in self.alarm_sources]),
                retry_attempts,
                max_event_age,
            )
        if new_data.enabled:
            self.rules["new_data"] = self._rule(
                "OnNewData",
                f"New objects under s3://<data bucket>/{data_prefix} may restart {model_name} training",
                events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={
                        "bucket": {"name": [data_bucket.bucket_name]},
                        "object": {"key": events.Match.prefix(data_prefix)},
                    },
                ),
                retry_attempts,
                max_event_age,
            )

        self.schedule: scheduler.Schedule | None = None
        self.scheduler_role: iam.Role | None = None
        if settings.schedule is not None:
            self._add_schedule(
                schedule_name,
                model_name=model_name,
                environment_name=environment_name,
                retries=retry_attempts,
                max_age=max_event_age,
                key=key,
            )

        self.dead_letter_alarm = cloudwatch.Alarm(
            self,
            "DeadLettersAlarm",
            alarm_description=f"Retrain triggers of {model_name} ({environment_name}) could not be delivered to the "
            "trigger queue: see the dead-letter queue",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.trigger_dead_letter_alarm = cloudwatch.Alarm(
            self,
            "TriggerDeadLettersAlarm",
            alarm_description=f"The retrain trigger of {model_name} ({environment_name}) failed on a trigger "
            f"{max_receive_count} times: see the trigger dead-letter queue and the function's logs",
            metric=self.trigger_dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.errors_alarm = cloudwatch.Alarm(
            self,
            "ErrorsAlarm",
            alarm_description=f"The retrain trigger of {model_name} ({environment_name}) raised errors",
            metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (self.dead_letter_alarm, self.trigger_dead_letter_alarm, self.errors_alarm):
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))

    def _fifo_queue_name(self, purpose: str) -> str:
        """``<unique name of this construct>-<purpose>.fifo``, at most 80 characters, the same on every synth."""
        suffix = f"-{purpose}.fifo"
        return Names.unique_resource_name(self, max_length=QUEUE_NAME_MAX - len(suffix), separator="-") + suffix

    def _depend_on_policy_only(self) -> None:
        """Keep the function's DependsOn on its role policy and drop the one on the role itself.

        The role is already a dependency through ``Fn::GetAtt``; CDK's extra DependsOn is what cfn-lint's W3005
        reports. The policy dependency matters: the function must not run before it may start the pipeline.
        """
        policy = self.role.node.try_find_child("DefaultPolicy")
        assert isinstance(policy, iam.Policy)
        function = self.function.node.default_child
        assert isinstance(function, lambda_.CfnFunction)
        policy_resource = policy.node.default_child
        assert isinstance(policy_resource, iam.CfnPolicy)
        function.add_override("DependsOn", [Stack.of(self).get_logical_id(policy_resource)])

    def _rule(
        self, construct_id: str, description: str, pattern: events.EventPattern, retries: int, max_age: Duration
    ) -> events.Rule:
        """A default-bus rule sending the whole event to the trigger queue; undeliverable events go to the DLQ.

        EventBridge sends as ``events.amazonaws.com``: the queue policy CDK adds allows this rule only, and the
        environment key's policy lets the service use the key (``stacks.data_stack``; "Amazon SQS queue target").
        """
        rule = events.Rule(self, construct_id, description=description, event_pattern=pattern)
        rule.add_target(
            targets.SqsQueue(
                self.trigger_queue,
                message_group_id=self.message_group_id,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=retries,
                max_event_age=max_age,
            )
        )
        return rule

    def _add_schedule(
        self,
        schedule_name: str,
        *,
        model_name: str,
        environment_name: str,
        retries: int,
        max_age: Duration,
        key: kms.IKey,
    ) -> None:
        """An EventBridge Scheduler schedule whose role may send to the trigger queue and its dead-letter queue only.

        Scheduler sends both the target message and a dead letter with this role, so the role needs the queues' key
        as well as ``sqs:SendMessage``: a sender to a queue encrypted with a customer managed key needs
        ``kms:GenerateDataKey`` and ``kms:Decrypt`` on it ("Configuring a schedule's dead-letter queue in EventBridge
        Scheduler", "Amazon SQS key management").
        """
        stack = Stack.of(self)
        assert self.settings.schedule is not None
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"EventBridge Scheduler sends the {model_name} retrain trigger ({environment_name})",
        )
        payload = {
            "version": "0",
            "id": scheduler.ContextAttribute.execution_id,
            "source": SCHEDULER_SOURCE,
            "detail-type": SCHEDULER_DETAIL_TYPE,
            "account": stack.account,
            "region": stack.region,
            "time": scheduler.ContextAttribute.scheduled_time,
            "resources": [scheduler.ContextAttribute.schedule_arn],
            "detail": {
                "model": model_name,
                "environment": environment_name,
                "schedule": schedule_name,
                "attempt": scheduler.ContextAttribute.attempt_number,
            },
        }
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule_name=schedule_name,
            description=f"Scheduled retraining of {model_name} ({environment_name})",
            schedule=scheduler.ScheduleExpression.expression(self.settings.schedule),
            time_window=scheduler.TimeWindow.off(),
            target=scheduler_targets.SqsSendMessage(
                self.trigger_queue,
                message_group_id=self.message_group_id,
                input=scheduler.ScheduleTargetInput.from_object(payload),
                role=self.scheduler_role,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=retries,
                max_event_age=max_age,
            ),
        )
        # Exactly the two data-key actions a sender needs, on the key of both queues: CDK's target grant covers the
        # trigger queue's key, but for the dead-letter queue it grants sqs:SendMessage only.
        self.scheduler_role.add_to_policy(
            iam.PolicyStatement(
                sid="EncryptForEncryptedQueues",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
            )
        )
        acknowledge(
            self.scheduler_role,
            "AwsSolutions-IAM5",
            "The KMS grant CDK adds for sending to the KMS-encrypted trigger queue: kms:GenerateDataKey* on the one "
            "environment key only.",
            applies_to=["Action::kms:GenerateDataKey*"],
        )

    def metric_dead_letters(self) -> cloudwatch.Metric:
        """Undelivered triggers waiting in the dead-letter queue."""
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible()

    def metric_trigger_dead_letters(self) -> cloudwatch.Metric:
        """Triggers the function failed on, waiting in the trigger dead-letter queue."""
        return self.trigger_dead_letter_queue.metric_approximate_number_of_messages_visible()
