"""Batch inference: the rendered batch pipeline, its role, a schedule over the whole input prefix, and new-data
windows that score only the files that arrived (``mlops_constructs.batch_window``)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_config.model_kind import XGBOOST_IMAGE, ImageSettings
from mlops_constructs.batch_window import DEFAULT_ARRIVAL_WINDOW, BatchWindow
from mlops_constructs.endpoint import ModelArtifactSource
from mlops_constructs.images import ServingImage
from mlops_constructs.sagemaker_iam import grant_job_basics
from mlops_constructs.sagemaker_pipeline import SageMakerPipeline
from pipeline_defs.batch_settings import BatchPlaceholders
from pipeline_defs.settings import Placeholders

# Parameter names of the batch pipeline (pipeline_defs.batch_pipeline); kept here so the construct never
# imports the SDK-heavy definition module.
TRIGGER_PARAMETER = "TriggerReason"


class BatchInference(Construct):
    """A batch-inference SageMaker pipeline over ``input_prefix`` of ``data_bucket``, started on a schedule and/or
    once per arrival window of new files.

    ``definition_json`` is the rendered batch pipeline (``render_batch_definition``). Its role reads the input
    prefix and the window manifests under ``manifest_prefix``, writes the output prefix and the batch capture under
    ``capture_prefix`` of ``capture_bucket``, all with ``key``; reads the promoted copy of the served model
    (``artifact``, this account's bucket and key: the pipeline's model is made from its image and ModelDataUrl);
    and may create models and transform jobs, pulling exactly the repository of ``image`` (the model's
    ``images.serving``; default the AWS XGBoost 1.7-1 image).

    What a run scores: a scheduled run (``schedule``, an EventBridge Scheduler expression; default none) scores
    every object under the input prefix. With ``arrival_window`` (default 15 minutes; None turns new-data runs
    off) files landing under the prefix are collected and each window that received any starts ONE run that
    scores exactly those files (``BatchWindow``). Failed deliveries land in an encrypted dead-letter queue.
    With ``alarm_topic`` (default none) alarms on dead letters and on window-function errors notify it.
    ``definition_key_arn`` is ``key``'s ARN as the pipeline definition gets it (default ``key.key_arn``, right only
    when ``key`` is in this stack: a cross-stack reference fails synth, see
    ``mlops_constructs.sagemaker_pipeline.key_arn_from_parameter``).
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
        manifest_prefix: str,
        schedule: str | None = None,
        arrival_window: Duration | None = DEFAULT_ARRIVAL_WINDOW,
        alarm_topic: sns.ITopic | None = None,
        in_vpc: bool = False,
        definition_key_arn: str | None = None,
        image: ImageSettings = XGBOOST_IMAGE,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.input_prefix = input_prefix
        self.output_prefix = output_prefix
        self.capture_prefix = capture_prefix
        self.manifest_prefix = manifest_prefix
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
            prefixes=(input_prefix, output_prefix, capture_prefix, manifest_prefix),
            in_vpc=in_vpc,
            image=image,
        )
        self.pipeline = SageMakerPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            definition_json=definition_json,
            substitutions={
                Placeholders.EXECUTION_ROLE_NAME: self.role.role_name,
                Placeholders.DATA_BUCKET: data_bucket.bucket_name,
                Placeholders.KMS_KEY_ARN: definition_key_arn or key.key_arn,
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
        self.new_data_window: BatchWindow | None = None
        if schedule is not None:
            self.schedule = self._add_schedule(stack, schedule, key)
        if arrival_window is not None:
            self.new_data_window = BatchWindow(
                self,
                "NewDataWindow",
                pipeline=self.pipeline,
                data_bucket=data_bucket,
                input_prefix=input_prefix,
                manifest_prefix=manifest_prefix,
                key=key,
                dead_letter_queue=self.dead_letter_queue,
                arrival_window=arrival_window,
            )
        self.alarms: list[cloudwatch.Alarm] = []
        if alarm_topic is not None:
            self._add_alarms(pipeline_name, alarm_topic)

    def _add_alarms(self, pipeline_name: str, topic: sns.ITopic) -> None:
        """Dead letters (a start, a delivery or a window that failed) and window-function errors page ``topic``."""
        metrics = {
            "DeadLettersAlarm": (
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                f"Batch triggers of {pipeline_name} failed: see its dead-letter queue",
            )
        }
        if self.new_data_window is not None:
            metrics["WindowErrorsAlarm"] = (
                self.new_data_window.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                f"The new-data window of {pipeline_name} raised errors; its files wait for the next window",
            )
        for construct_id, (metric, description) in metrics.items():
            alarm = cloudwatch.Alarm(
                self,
                construct_id,
                alarm_description=description,
                metric=metric,
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
            self.alarms.append(alarm)

    def _grant_job_permissions(
        self,
        *,
        stack: Stack,
        artifact: ModelArtifactSource,
        data_bucket: s3.IBucket,
        capture_bucket: s3.IBucket,
        key: kms.IKey,
        prefixes: tuple[str, str, str, str],
        in_vpc: bool,
        image: ImageSettings,
    ) -> None:
        input_prefix, output_prefix, capture_prefix, manifest_prefix = prefixes
        role = self.role
        # Explicit actions instead of grant_read/grant_put: no action wildcards, and only the three prefixes.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadBatchInput",
                actions=["s3:GetObject"],
                # The transform job reads a window's manifest with this role, then the objects it lists.
                resources=[
                    data_bucket.arn_for_objects(f"{input_prefix}*"),
                    data_bucket.arn_for_objects(f"{manifest_prefix}*"),
                ],
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
            image_repositories=[ServingImage.resolve(image, stack.region).repository_arn(stack)],
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
