"""Retraining triggers: a guarded Lambda that restarts a model's training pipeline on drift, new data or a schedule.

``RetrainOnDrift`` builds the function (``lambda/retrain_trigger``), its dead-letter queue and alarms, and up to three
triggers: an EventBridge rule on the model's drift/quality alarms entering ALARM, an EventBridge rule on new objects
under the training-data prefix, and an EventBridge Scheduler schedule. Every guard (one run at a time, cool-down,
daily cap, duplicate events) lives in the function, which reads its state from SageMaker's execution history.

Drift alarms of serving environments in other accounts reach the training environment's default event bus through
``AlarmForwarder`` (deployed in the serving environment) and the bus policy ``RetrainOnDrift`` adds for those accounts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_config import PlatformConfig
from mlops_config.platform import ModelSettings
from mlops_config.retraining import RetrainingSettings
from mlops_constructs import naming
from mlops_constructs.lambda_runtime import (
    ARCHITECTURE,
    ASSET_EXCLUDES,
    POWERTOOLS_LAYER_VERSION,
    RUNTIME,
    acknowledge_pinned_runtime,
    powertools_layer,
)
from mlops_constructs.nag import acknowledge

FUNCTION_DIR: Final = Path(__file__).resolve().parent.parent / "lambda" / "retrain_trigger"
# The alarms of a served and monitored model that restart its training: see ``drift_alarm_kinds``.
FEATURE_DRIFT: Final = "feature-drift"
MODEL_QUALITY: Final = "model-quality"
SCHEDULER_SOURCE: Final = "mlops.scheduler"
SCHEDULER_DETAIL_TYPE: Final = "Scheduled Retrain"
ALARM_DETAIL_TYPE: Final = "CloudWatch Alarm State Change"
# A trigger does two or three API calls; 120 s leaves room for botocore and the function's own bounded retries.
DEFAULT_TIMEOUT: Final = Duration.seconds(120)
# Lambda's maximum: a throttled trigger (reserved concurrency 1) waits up to 6 hours, then goes to the DLQ.
DEFAULT_MAX_EVENT_AGE: Final = Duration.hours(6)


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


@dataclass(frozen=True)
class AlarmSource:
    """The drift/quality alarms of one model in one serving environment (its account and region)."""

    environment: str
    account: str
    region: str
    alarm_names: tuple[str, ...]


def drift_alarm_kinds(config: PlatformConfig, model: ModelSettings, environment: str) -> tuple[str, ...]:
    """The alarm kinds (``naming.alarm_name``) that retrain ``model`` from ``environment``; empty if none.

    Only an environment that serves and monitors the model has its drift and model-quality alarms (both backends
    publish both, see ``mlops_constructs.alarms``), and its own ``retraining.on_drift`` decides whether they
    restart training.
    """
    config.environment(environment)  # KeyError for an unknown environment
    settings = model.in_environment(environment)
    if not settings.retraining.on_drift or settings.serving.mode == "none" or not settings.monitoring.enabled:
        return ()
    if settings.monitoring.backend == "endpoint_only":  # nothing publishes drift or quality there
        return ()
    return (FEATURE_DRIFT, MODEL_QUALITY)


def retrain_alarm_sources(config: PlatformConfig, model: ModelSettings, training_environment: str) -> list[AlarmSource]:
    """The alarms that restart ``model``'s training in ``training_environment``.

    The registry environment hears every environment's alarms (others forward theirs with ``AlarmForwarder``);
    any other environment that trains hears only its own.
    """
    names = (
        [env.name for env in config.environments]
        if training_environment == config.registry_environment
        else [training_environment]
    )
    sources = []
    for name in names:
        env = config.environment(name)
        kinds = drift_alarm_kinds(config, model, name)
        if kinds:
            alarm_names = tuple(naming.alarm_name(config.project, name, model.name, kind) for kind in kinds)
            sources.append(
                AlarmSource(environment=name, account=env.account, region=env.region, alarm_names=alarm_names)
            )
    return sources


def alarm_event_pattern(alarm_names: Sequence[str], accounts: Sequence[str]) -> events.EventPattern:
    """State changes of exactly ``alarm_names`` into ALARM, from ``accounts``."""
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=[ALARM_DETAIL_TYPE],
        account=list(dict.fromkeys(accounts)),
        detail={"alarmName": list(alarm_names), "state": {"value": ["ALARM"]}},
    )


class RetrainOnDrift(Construct):
    """The retraining trigger of one model in one training environment, with its triggers, DLQ and alarms.

    Creates: an arm64 Python function with the public Powertools layer, its own log group (``log_retention``,
    ``removal_policy``), reserved concurrency (``settings.reserved_concurrency``: one at a time keeps the
    "nothing running" guard race-free), asynchronous retries and an on-failure destination; an SQS dead-letter queue
    encrypted with ``key`` and TLS-only; alarms on dead letters and function errors to ``alarm_topic``; and, as
    ``settings`` enables them, the drift-alarm rule, the new-data rule and the schedule.

    IAM: ``sagemaker:ListPipelineExecutions`` and ``sagemaker:StartPipelineExecution`` on the pipeline only,
    ``s3:ListBucket`` on ``data_bucket`` limited to ``data_prefix``, writing to its own log group, sending to the DLQ.
    No ``iam:PassRole``: the pipeline runs with its own role.
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
        powertools_layer_version: int = POWERTOOLS_LAYER_VERSION,
    ) -> None:
        """``alarm_sources`` defaults to none (no drift rule); ``log_retention`` to three months; ``removal_policy``
        (log group and DLQ) to RETAIN; ``retry_attempts`` (async invocations, rule and schedule targets) to 2;
        ``max_event_age`` to 6 hours; the Powertools layer version to ``POWERTOOLS_LAYER_VERSION``.
        """
        super().__init__(scope, construct_id)
        if not data_prefix or data_prefix.startswith("/") or not data_prefix.endswith("/"):
            raise ValueError(f"data_prefix {data_prefix!r}: expected a relative prefix ending with '/'")
        if not 0 <= retry_attempts <= 2:
            raise ValueError(f"retry_attempts {retry_attempts}: Lambda allows 0-2 asynchronous retries")
        if not Duration.minutes(1).to_seconds() <= max_event_age.to_seconds() <= Duration.hours(6).to_seconds():
            raise ValueError("max_event_age: Lambda allows 1 minute to 6 hours")
        stack = Stack.of(self)
        self.settings = settings
        self.alarm_sources = tuple(alarm_sources)
        self.alarm_names = tuple(name for source in self.alarm_sources for name in source.alarm_names)
        new_data = settings.new_data

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
            "This queue is the dead-letter queue of the retrain function and of its rule and schedule targets.",
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

        powertools = powertools_layer(self, version=powertools_layer_version)
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"Restarts the {model_name} training pipeline ({environment_name}) on drift, data, schedule",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(str(FUNCTION_DIR), exclude=list(ASSET_EXCLUDES)),
            layers=[powertools],
            role=self.role,
            log_group=self.log_group,
            memory_size=256,
            timeout=timeout,
            reserved_concurrent_executions=settings.reserved_concurrency,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
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
        acknowledge_pinned_runtime(self.function)
        self._depend_on_policy_only()
        # CDK's SQS grant for the on-failure destination uses the KMS wildcard actions on the one queue key.
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "The KMS grant CDK adds for sending to the KMS-encrypted dead-letter queue: data-key actions on the "
            "one environment key only.",
            applies_to=["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
        )

        self.rules: dict[str, events.Rule] = {}
        if self.alarm_names:
            self.rules["drift"] = self._rule(
                "OnDriftAlarm",
                f"{model_name} drift/quality alarms entering ALARM restart its training",
                alarm_event_pattern(self.alarm_names, [source.account for source in self.alarm_sources]),
                retry_attempts,
            )
            self._allow_forwarded_alarms(model_name, environment_name)
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
            )

        self.schedule: scheduler.Schedule | None = None
        self.scheduler_role: iam.Role | None = None
        if settings.schedule is not None:
            self._add_schedule(schedule_name, model_name, environment_name, retry_attempts)

        self.dead_letter_alarm = cloudwatch.Alarm(
            self,
            "DeadLettersAlarm",
            alarm_description=f"Retrain triggers of {model_name} ({environment_name}) failed: see the dead-letter "
            "queue and the function's logs",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
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
        for alarm in (self.dead_letter_alarm, self.errors_alarm):
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))

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

    def _rule(self, construct_id: str, description: str, pattern: events.EventPattern, retries: int) -> events.Rule:
        """A default-bus rule invoking the function; undeliverable events go to the DLQ."""
        rule = events.Rule(self, construct_id, description=description, event_pattern=pattern)
        rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=retries,
                max_event_age=Duration.hours(6),
            )
        )
        return rule

    def _allow_forwarded_alarms(self, model_name: str, environment_name: str) -> None:
        """Let the serving accounts put exactly their alarm state changes on this account's default bus."""
        stack = Stack.of(self)
        bus_arn = stack.format_arn(
            service="events", resource="event-bus", resource_name="default", arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        for account in sorted({source.account for source in self.alarm_sources} - {stack.account}):
            statement_id = f"retrain-{model_name}-{environment_name}-alarms-from-{account}"[:64]
            # L1: the L2 EventBusPolicy cannot resolve a PolicyStatement in this CDK version (circular reference).
            events.CfnEventBusPolicy(
                self,
                f"AllowAlarmsFrom{account}",
                event_bus_name="default",
                statement_id=statement_id,
                statement={
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{stack.partition}:iam::{account}:root"},
                    "Action": "events:PutEvents",
                    "Resource": bus_arn,
                    "Condition": {
                        "StringEquals": {"events:source": "aws.cloudwatch", "events:detail-type": ALARM_DETAIL_TYPE}
                    },
                },
            )

    def _add_schedule(self, schedule_name: str, model_name: str, environment_name: str, retries: int) -> None:
        """An EventBridge Scheduler schedule whose role may invoke this function only."""
        stack = Stack.of(self)
        assert self.settings.schedule is not None
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"EventBridge Scheduler invokes the {model_name} retrain trigger ({environment_name})",
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
            target=scheduler_targets.LambdaInvoke(
                self.function,
                input=scheduler.ScheduleTargetInput.from_object(payload),
                role=self.scheduler_role,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=retries,
                max_event_age=Duration.hours(6),
            ),
        )
        acknowledge(
            self.scheduler_role,
            "AwsSolutions-IAM5",
            "The KMS grant CDK adds for sending to the KMS-encrypted dead-letter queue: data-key actions on the "
            "one environment key only.",
            applies_to=["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
        )
        function_id = stack.get_logical_id(self.function.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            self.scheduler_role,
            "AwsSolutions-IAM5",
            "CDK's Scheduler Lambda target grants lambda:InvokeFunction on this one function and its "
            "versions/aliases (<function>:*); the role can invoke nothing else.",
            applies_to=[f"Resource::<{function_id}.Arn>:*"],
        )

    def metric_dead_letters(self) -> cloudwatch.Metric:
        """Failed triggers waiting in the dead-letter queue."""
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible()


class AlarmForwarder(Construct):
    """In a serving environment: forward the state changes of ``alarm_names`` into ALARM to the training account.

    A rule on this account's default bus targets ``target_account``'s default bus in ``target_region`` (EventBridge
    assumes a role CDK creates that may put events on that bus only). The receiving side's bus policy is added by
    ``RetrainOnDrift`` for exactly the accounts of its ``alarm_sources``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_names: Sequence[str],
        target_account: str,
        target_region: str,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        """``dead_letter_queue`` defaults to none: undeliverable events are retried for 24 hours, then dropped."""
        super().__init__(scope, construct_id)
        if not alarm_names:
            raise ValueError("AlarmForwarder needs at least one alarm name")
        stack = Stack.of(self)
        target_bus = events.EventBus.from_event_bus_arn(
            self,
            "TrainingBus",
            stack.format_arn(
                service="events",
                account=target_account,
                region=target_region,
                resource="event-bus",
                resource_name="default",
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            ),
        )
        self.rule = events.Rule(
            self,
            "ForwardAlarms",
            description="Forwards drift/quality alarms entering ALARM to the account that retrains the model",
            event_pattern=alarm_event_pattern(list(alarm_names), [stack.account]),
        )
        self.rule.add_target(targets.EventBus(target_bus, dead_letter_queue=dead_letter_queue))
