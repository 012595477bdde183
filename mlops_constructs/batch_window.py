"""New-data batch runs: S3 "Object Created" events queue up, and one run per arrival window scores only them.

Without a window every uploaded file started its own run over the whole input prefix (N files, N runs, N x the
prefix scored). Here an EventBridge rule sends the events to an SQS queue (KMS, with a dead-letter queue); an
EventBridge Scheduler schedule invokes ``lambda/batch_window`` every ``arrival_window``; the function drains the
queue, writes a manifest of the new keys (the ``S3DataType=ManifestFile`` format of CreateTransformJob, API
reference "TransformS3DataSource") and starts ONE execution of the batch pipeline with it.

A schedule, not an SQS event source mapping: Lambda's batching window is at most 300 seconds (Lambda API reference,
"CreateEventSourceMapping", MaximumBatchingWindowInSeconds 0-300) and an SQS batch holds at most 10,000 records
("Lambda parameters for Amazon SQS event source mappings"), so a mapping cannot promise one run per configured
window; the schedule can.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.lambda_runtime import (
    acknowledge_pinned_runtime,
    python_function,
)
from mlops_constructs.nag import acknowledge, resource_finding
from mlops_constructs.sagemaker_pipeline import SageMakerPipeline

FUNCTION_DIR: Final = Path(__file__).resolve().parent.parent / "lambda" / "batch_window"
# Draining and deleting 10,000 messages takes well under a minute; the rest is headroom for retries.
FUNCTION_TIMEOUT: Final = Duration.minutes(5)
# Received messages stay hidden for longer than one invocation can run, so no other invocation sees them while a
# window is being started; if the start fails they come back after this and the next window retries them.
VISIBILITY_TIMEOUT: Final = Duration.minutes(15)
# A message received this often without being acted on goes to the dead-letter queue.
MAX_RECEIVE_COUNT: Final = 5
MAX_KEYS_PER_WINDOW: Final = 10000
DEFAULT_ARRIVAL_WINDOW: Final = Duration.minutes(15)


class BatchWindow(Construct):
    """Collects new files under ``input_prefix`` of ``data_bucket`` and starts ``pipeline`` once per window.

    ``manifest_prefix`` (of the same bucket, disjoint from the input prefix) receives one manifest per run.
    ``arrival_window`` defaults to 15 minutes. The queue and its dead-letter queue (``dead_letter_queue``, shared
    with the rule and schedule targets) are encrypted with ``key``. IAM: the function may consume this queue, put
    manifests under ``manifest_prefix``, start this one pipeline, and write its own log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: SageMakerPipeline,
        data_bucket: s3.IBucket,
        input_prefix: str,
        manifest_prefix: str,
        key: kms.IKey,
        dead_letter_queue: sqs.IQueue,
        arrival_window: Duration = DEFAULT_ARRIVAL_WINDOW,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if input_prefix.startswith(manifest_prefix) or manifest_prefix.startswith(input_prefix):
            raise ValueError(
                f"manifest_prefix {manifest_prefix!r} overlaps input_prefix {input_prefix!r}: a manifest would count "
                "as new data; allowed: disjoint prefixes"
            )
        if not Duration.minutes(1).to_seconds() <= arrival_window.to_seconds() <= Duration.days(1).to_seconds():
            raise ValueError("arrival_window: allowed 1 minute to 1 day")
        self.arrival_window = arrival_window
        self.queue = sqs.Queue(
            self,
            "NewData",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            visibility_timeout=VISIBILITY_TIMEOUT,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT),
            removal_policy=removal_policy,
        )
        # L1: CDK's SqsQueue target would add a KMS grant for events.amazonaws.com on the environment key (which
        # lives in the data stack and already lets EventBridge generate data keys and decrypt with it, as SQS
        # requires of an AWS service sending to a queue with a customer managed key: SQS developer guide, "Amazon SQS
        # key management"); the queue policies below admit this rule only.
        self.rule = events.CfnRule(
            self,
            "OnNewData",
            description=f"Queues files landing under {input_prefix} for the next batch window",
            event_pattern={
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [data_bucket.bucket_name]},
                    "object": {"key": [{"prefix": input_prefix}]},
                },
            },
            state="ENABLED",
            targets=[
                events.CfnRule.TargetProperty(
                    id="NewDataQueue",
                    arn=self.queue.queue_arn,
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letter_queue.queue_arn),
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_event_age_in_seconds=int(Duration.hours(6).to_seconds()), maximum_retry_attempts=10
                    ),
                )
            ],
        )
        for queue, sid in ((self.queue, "NewDataRuleSends"), (dead_letter_queue, "NewDataRuleDeadLetters")):
            queue.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[queue.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": self.rule.attr_arn}},
                )
            )

        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=removal_policy, encryption_key=key
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Batch window of {pipeline.pipeline_name}: queue in, manifest out, one start per window",
        )
        self.log_group.grant_write(self.role)
        self.queue.grant_consume_messages(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteManifests",
                actions=["s3:PutObject"],
                resources=[data_bucket.arn_for_objects(f"{manifest_prefix}*")],
            )
        )
        # Manifests are encrypted with the bucket's default key (SSE-KMS with a bucket key).
        key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        pipeline.grant_start_execution(self.role)

        self.function = python_function(
            self,
            "Function",
            description=f"Starts {pipeline.pipeline_name} once per arrival window with a manifest of the new files",
            code_dir=FUNCTION_DIR,
            role=self.role,
            log_group=self.log_group,
            memory_size=256,
            timeout=FUNCTION_TIMEOUT,
            # Invoked by the schedule only, which retries on its own: no asynchronous retries on top.
            retry_attempts=0,
            environment={
                "QUEUE_URL": self.queue.queue_url,
                "PIPELINE_NAME": pipeline.pipeline_name,
                "DATA_BUCKET": data_bucket.bucket_name,
                "INPUT_PREFIX": input_prefix,
                "MANIFEST_PREFIX": manifest_prefix,
                "EXPECTED_ACCOUNT": stack.account,
                "EXPECTED_REGION": stack.region,
                "MAX_KEYS": str(MAX_KEYS_PER_WINDOW),
                "VISIBILITY_TIMEOUT_SECONDS": str(int(VISIBILITY_TIMEOUT.to_seconds())),
                "POWERTOOLS_SERVICE_NAME": f"batch-window-{pipeline.pipeline_name}",
                "LOG_LEVEL": "INFO",
            },
        )
        acknowledge_pinned_runtime(self.function)
        self._depend_on_policy_only()

        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"EventBridge Scheduler closes the batch windows of {pipeline.pipeline_name}",
        )
        minutes = int(arrival_window.to_minutes())
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=f"Closes a {minutes}-minute arrival window of {pipeline.pipeline_name}",
            schedule=scheduler.ScheduleExpression.rate(arrival_window),
            time_window=scheduler.TimeWindow.off(),
            target=scheduler_targets.LambdaInvoke(
                self.function,
                input=scheduler.ScheduleTargetInput.from_object(
                    {"window_minutes": minutes, "scheduled_time": scheduler.ContextAttribute.scheduled_time}
                ),
                role=self.scheduler_role,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=2,
                max_event_age=Duration.hours(1),
            ),
        )
        # CDK's Scheduler target grants sqs:SendMessage on the dead-letter queue only; a sender to a queue encrypted
        # with a customer managed key also needs the key ("Configuring a schedule's dead-letter queue in EventBridge
        # Scheduler"; Amazon SQS "Key management").
        key.grant(self.scheduler_role, "kms:GenerateDataKey", "kms:Decrypt")
        self._acknowledge(data_bucket, manifest_prefix)

    def _depend_on_policy_only(self) -> None:
        """The function depends on its role policy (it must not run before it may act), not again on the role.

        The role is already a dependency through ``Fn::GetAtt``; CDK's extra DependsOn is cfn-lint's W3005.
        """
        policy = self.role.node.try_find_child("DefaultPolicy")
        assert isinstance(policy, iam.Policy)
        function = self.function.node.default_child
        assert isinstance(function, lambda_.CfnFunction)
        policy_resource = policy.node.default_child
        assert isinstance(policy_resource, iam.CfnPolicy)
        function.add_override("DependsOn", [Stack.of(self).get_logical_id(policy_resource)])

    def _acknowledge(self, data_bucket: s3.IBucket, manifest_prefix: str) -> None:
        kms_wildcards = ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"]
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "CDK's SQS consume grant on the KMS-encrypted new-data queue: data-key actions on the one environment "
            "key only.",
            applies_to=kms_wildcards,
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Each window writes one manifest under a content-derived key below the manifest prefix; only that "
            "prefix is granted.",
            applies_to=[resource_finding(self, data_bucket.arn_for_objects(f"{manifest_prefix}*"))],
        )
        acknowledge(
            self.scheduler_role,
            "AwsSolutions-IAM5",
            "The KMS grant CDK adds for sending to the KMS-encrypted dead-letter queue: data-key actions on the "
            "one environment key only.",
            applies_to=kms_wildcards,
        )
        function_id = Stack.of(self).get_logical_id(self.function.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            self.scheduler_role,
            "AwsSolutions-IAM5",
            "CDK's Scheduler Lambda target grants lambda:InvokeFunction on this one function and its "
            "versions/aliases (<function>:*); the role can invoke nothing else.",
            applies_to=[f"Resource::<{function_id}.Arn>:*"],
        )
