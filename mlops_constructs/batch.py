"""Batch inference: the rendered batch pipeline, its role, a schedule and a trigger on new input files."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.endpoint import ModelArtifactSource, aws_image_registry
from mlops_constructs.sagemaker_iam import grant_job_basics
from mlops_constructs.sagemaker_pipeline import SageMakerPipeline
from pipeline_defs.batch_settings import BatchPlaceholders
from pipeline_defs.settings import Placeholders

# Parameter names of the batch pipeline (pipeline_defs.batch_pipeline); kept here so the construct never
# imports the SDK-heavy definition module.
TRIGGER_PARAMETER = "TriggerReason"


class BatchInference(Construct):
    """A batch-inference SageMaker pipeline over ``input_prefix`` of ``data_bucket``, started on a schedule and/or
    when a file lands under the prefix.

    ``definition_json`` is the rendered batch pipeline (``render_batch_definition``). Its role reads the input
    prefix, writes the output prefix and the batch capture under ``capture_prefix`` of ``capture_bucket``, all
    with ``key``; reads the promoted copy of the served model (``artifact``, this account's bucket and key: the
    pipeline's model is made from its image and ModelDataUrl); and may create models and transform jobs.
    ``schedule`` (EventBridge Scheduler expression) defaults to none; ``run_on_new_data`` defaults to on. Failed
    trigger deliveries land in an encrypted dead-letter queue.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        definition_json: str,
        artifact: ModelArtifactSource,
        data_bucket: s3.IBucket,
        capture_bucket: s3.IBucket,
        key: kms.IKey,
        input_prefix: str,
        output_prefix: str,
        capture_prefix: str,
        schedule: str | None = None,
        run_on_new_data: bool = True,
        in_vpc: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.input_prefix = input_prefix
        self.output_prefix = output_prefix
        self.capture_prefix = capture_prefix
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs the batch-inference pipeline {pipeline_name} and its transform jobs",
        )
        self._grant_job_permissions(
            stack=stack,
            artifact=artifact,
            data_bucket=data_bucket,
            capture_bucket=capture_bucket,
            key=key,
            prefixes=(input_prefix, output_prefix, capture_prefix),
            in_vpc=in_vpc,
        )
        self.pipeline = SageMakerPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            definition_json=definition_json,
            substitutions={
                Placeholders.EXECUTION_ROLE_NAME: self.role.role_name,
                Placeholders.DATA_BUCKET: data_bucket.bucket_name,
                Placeholders.KMS_KEY_ARN: key.key_arn,
                BatchPlaceholders.CAPTURE_BUCKET: capture_bucket.bucket_name,
                # The promotion custom resource's attributes, in this stack: the model waits for the verified copy.
                BatchPlaceholders.MODEL_IMAGE: artifact.image,
                BatchPlaceholders.MODEL_DATA_URL: artifact.model_data_url,
            },
            role=self.role,
            description=f"Batch inference with {artifact.package_arn}",
        )
        # SageMaker validates the role's permissions when the pipeline is created and when it runs.
        self.pipeline.resource.node.add_dependency(self.role.node.find_child("DefaultPolicy"))

        self.dead_letter_queue = sqs.Queue(
            self,
            "TriggerDeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.schedule: scheduler.CfnSchedule | None = None
        self.new_data_rule: events.CfnRule | None = None
        if schedule is not None:
            self.schedule = self._add_schedule(stack, schedule, key)
        if run_on_new_data:
            self.new_data_rule = self._add_new_data_rule(data_bucket, input_prefix)

    def _grant_job_permissions(
        self,
        *,
        stack: Stack,
        artifact: ModelArtifactSource,
        data_bucket: s3.IBucket,
        capture_bucket: s3.IBucket,
        key: kms.IKey,
        prefixes: tuple[str, str, str],
        in_vpc: bool,
    ) -> None:
        input_prefix, output_prefix, capture_prefix = prefixes
        role = self.role
        # Explicit actions instead of grant_read/grant_put: no action wildcards, and only the three prefixes.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadBatchInput",
                actions=["s3:GetObject"],
                resources=[data_bucket.arn_for_objects(f"{input_prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListBatchInput",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{input_prefix}*"]}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteBatchOutputAndCapture",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[
                    data_bucket.arn_for_objects(f"{output_prefix}*"),
                    capture_bucket.arn_for_objects(f"{capture_prefix}*"),
                ],
            )
        )
        key.grant(role, "kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt")
        artifact.grant_read(role)

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(
                service="sagemaker", resource=resource, resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
            )

        role.add_to_policy(
            iam.PolicyStatement(
                sid="BatchJobs",
                actions=[
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:DeleteModel",
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:StopTransformJob",
                    "sagemaker:AddTags",
                ],
                resources=[arn("model", "*"), arn("transform-job", "*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PassSelfToSageMaker",
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        grant_job_basics(
            role,
            image_repositories=[
                stack.format_arn(
                    service="ecr",
                    resource="repository",
                    resource_name="sagemaker-xgboost",
                    account=aws_image_registry("xgboost", stack.region),
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
            in_vpc=in_vpc,
        )

    def _add_schedule(self, stack: Stack, expression: str, key: kms.IKey) -> scheduler.CfnSchedule:
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description="Lets EventBridge Scheduler start one batch-inference pipeline",
        )
        self.pipeline.grant_start_execution(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DeadLetters", actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]
            )
        )
        # The dead-letter queue and the schedule itself are encrypted with the environment key.
        key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")
        schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            description=f"Runs batch inference {self.pipeline.pipeline_name}",
            schedule_expression=expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            kms_key_arn=key.key_arn,
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.pipeline.pipeline_arn,
                role_arn=role.role_arn,
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=10
                ),
                sage_maker_pipeline_parameters=scheduler.CfnSchedule.SageMakerPipelineParametersProperty(
                    pipeline_parameter_list=[
                        scheduler.CfnSchedule.SageMakerPipelineParameterProperty(
                            name=TRIGGER_PARAMETER, value="schedule"
                        )
                    ]
                ),
            ),
        )
        schedule.node.add_dependency(role.node.find_child("DefaultPolicy"))
        return schedule

    def _add_new_data_rule(self, data_bucket: s3.IBucket, input_prefix: str) -> events.CfnRule:
        role = iam.Role(
            self,
            "NewDataTriggerRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="Lets EventBridge start one batch-inference pipeline",
        )
        self.pipeline.grant_start_execution(role)
        # L1: the L2 rule targets have no SageMaker pipeline target with parameters, a role and a DLQ.
        rule = events.CfnRule(
            self,
            "OnNewData",
            description=f"Runs batch inference {self.pipeline.pipeline_name} when a file lands under {input_prefix}",
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
                    id="StartBatchPipeline",
                    arn=self.pipeline.pipeline_arn,
                    role_arn=role.role_arn,
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_event_age_in_seconds=3600, maximum_retry_attempts=10
                    ),
                    sage_maker_pipeline_parameters=events.CfnRule.SageMakerPipelineParametersProperty(
                        pipeline_parameter_list=[
                            events.CfnRule.SageMakerPipelineParameterProperty(name=TRIGGER_PARAMETER, value="new-data")
                        ]
                    ),
                )
            ],
        )
        rule.node.add_dependency(role.node.find_child("DefaultPolicy"))
        self.dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.dead_letter_queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
            )
        )
        return rule
