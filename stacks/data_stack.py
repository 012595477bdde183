"""The stateful core of one environment: key, buckets, notifications topic and model registry.

Everything that holds data lives here, apart from the stacks that change often, so that no change elsewhere
can replace it. The construct IDs below are a contract: tests pin the logical IDs they produce.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_config import EnvironmentSettings, PlatformConfig
from mlops_constructs import naming
from mlops_constructs.drift_alarm_routing import ForwardedAlarmsBusPolicy, forwarded_alarm_accounts
from mlops_constructs.promotion import (
    PROMOTED_PREFIX,
    REGISTRY_ARTIFACT_PATTERNS,
    promotion_role_arn_pattern,
)
from mlops_constructs.registry import ModelPackageGroup
from mlops_constructs.sagemaker_log_groups import SageMakerLogGroups, job_log_group_names
from mlops_constructs.storage import AccessLogBucket, SecureBucket


class DataStack(Stack):
    """Key, buckets, topic and (where the environment trains) the model registry of one environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentSettings,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = RemovalPolicy.RETAIN if environment.retain_data else RemovalPolicy.DESTROY
        lifecycle = environment.lifecycle
        is_registry = environment.name == config.registry_environment
        consumer_accounts = config.consumer_accounts() if is_registry else ()
        # The copier roles (mlops_constructs.promotion) of every other environment: the only readers of the registry.
        promoters = (
            [
                promotion_role_arn_pattern(self, account=env.account, project=config.project, environment=env.name)
                for env in config.environments
                if env.name != environment.name and env.account in consumer_accounts
            ]
            if is_registry
            else []
        )

        self.key = kms.Key(
            self,
            "DataKey",
            description=f"Data at rest of the {config.project} {environment.name} MLOps environment",
            enable_key_rotation=True,
            alias=naming.key_alias_name(config.project, environment.name),
            removal_policy=removal,
            pending_window=Duration.days(30) if environment.retain_data else Duration.days(7),
        )
        self._allow_service_use_of_key()
        # SageMaker's job log groups exist per account and region, so the environment's stateful stack owns them.
        self.job_log_groups = SageMakerLogGroups(
            self,
            "SageMakerJobLogs",
            log_group_names=job_log_group_names(trains=environment.trains),
            retention_days=environment.log_retention_days,
            key=self.key,
            release_key_on_delete=not environment.retain_data,
        )
        # Published by name for pipeline definitions in other stacks (mlops_constructs.sagemaker_pipeline).
        self.key_arn_parameter_name = naming.key_arn_parameter_name(config.project, environment.name)
        ssm.StringParameter(
            self,
            "DataKeyArnParameter",
            parameter_name=self.key_arn_parameter_name,
            string_value=self.key.key_arn,
            description=f"ARN of the {config.project} {environment.name} data key, for SageMaker pipeline definitions",
        )

        self.access_logs = AccessLogBucket(
            self,
            "AccessLogs",
            removal_policy=removal,
            expiration=Duration.days(lifecycle.access_logs_expiration_days),
        )
        noncurrent = Duration.days(lifecycle.noncurrent_version_expiration_days)

        def secure_bucket(construct_id: str, **extra: Any) -> SecureBucket:
            return SecureBucket(
                self,
                construct_id,
                encryption_key=self.key,
                server_access_logs_bucket=self.access_logs,
                removal_policy=removal,
                noncurrent_version_expiration=noncurrent,
                **extra,
            )

        tiering = (
            [
                s3.LifecycleRule(
                    id="infrequent-access",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(lifecycle.infrequent_access_after_days),
                        )
                    ],
                )
            ]
            if lifecycle.infrequent_access_after_days
            else []
        )

        def name(purpose: str) -> str:
            return naming.bucket_name(
                config.project, environment.name, purpose, environment.account, environment.region
            )

        self.data_bucket_resource = secure_bucket("TrainingData", bucket_name=name("data"), lifecycle_rules=tiering)
        # Bucket notifications to EventBridge let new data start a retrain or a batch job.
        _send_events_to_eventbridge(self.data_bucket_resource)
        self.artifact_bucket_resource = secure_bucket(
            "Artifacts",
            bucket_name=name("models"),
            lifecycle_rules=tiering,
        )
        self.capture_bucket_resource = secure_bucket(
            "DataCapture",
            bucket_name=name("capture"),
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-captured-data",
                    expiration=Duration.days(lifecycle.data_capture_expiration_days),
                )
            ],
        )
        self.monitoring_bucket_resource = secure_bucket(
            "MonitoringReports",
            bucket_name=name("reports"),
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-reports",
                    expiration=Duration.days(lifecycle.monitoring_reports_expiration_days),
                )
            ],
        )

        # Model Monitor's reports landing here are translated into the metric contract by an EventBridge rule.
        _send_events_to_eventbridge(self.monitoring_bucket_resource)

        # What other stacks use: the same buckets by literal name and ARN (no CloudFormation exports, so this
        # stack can always be updated), each knowing the key its objects are encrypted with.
        self.data_bucket = self._shared(name("data"), "Data")
        self.artifact_bucket = self._shared(name("models"), "Artifacts")
        self.capture_bucket = self._shared(name("capture"), "Capture")
        self.monitoring_bucket = self._shared(name("reports"), "Reports")
        self._protect_promoted_copies(
            promotion_role_arn_pattern(self, account=self.account, project=config.project, environment=environment.name)
        )

        self.topic = sns.Topic(
            self,
            "Notifications",
            display_name=f"{config.project} {environment.name} MLOps notifications",
            master_key=self.key,
            enforce_ssl=True,
        )
        # An explicit topic policy replaces SNS's default one, so CloudWatch alarm actions need their own grant.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        for email in environment.notification_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

        self.package_groups: dict[str, ModelPackageGroup] = {}
        if environment.trains:
            for model in config.models:
                self.package_groups[model.name] = ModelPackageGroup(
                    self,
                    f"Registry-{model.name}",
                    group_name=naming.model_package_group_name(config.project, model.name),
                    description=model.description,
                    reader_accounts=consumer_accounts,
                    reader_principal_patterns=promoters,
                    removal_policy=RemovalPolicy.RETAIN if environment.retain_data else RemovalPolicy.DESTROY,
                )
        if consumer_accounts:
            self._let_promoters_read_packages(consumer_accounts, promoters)
        # Drift alarms forwarded from serving accounts retrain models here: one bus-policy statement per account for
        # the whole environment, so that the policy does not grow with the number of models.
        self.forwarded_alarms_policy: ForwardedAlarmsBusPolicy | None = None
        alarm_accounts = forwarded_alarm_accounts(config) if is_registry else ()
        if alarm_accounts:
            self.forwarded_alarms_policy = ForwardedAlarmsBusPolicy(
                self, "ForwardedAlarmsBusPolicy", accounts=alarm_accounts
            )

    def _shared(self, bucket_name: str, construct_id: str) -> s3.IBucket:
        return s3.Bucket.from_bucket_attributes(
            self, f"{construct_id}BucketByName", bucket_name=bucket_name, encryption_key=self.key
        )

    def _allow_service_use_of_key(self) -> None:
        """Services that encrypt with the key on the platform's behalf.

        CloudWatch alarms and EventBridge publish to the encrypted topic, and EventBridge sends to encrypted queues
        (rule targets and their dead-letter queues): a sender to a queue or topic encrypted with a customer managed
        key needs ``kms:GenerateDataKey`` and ``kms:Decrypt`` on it ("Amazon SQS key management", "Using dead-letter
        queues to process undelivered events in EventBridge"). CloudWatch Logs encrypts the log groups of this
        account and region (and only those, by encryption context).
        """
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryptLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": self.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmAndEventPublishersUseKey",
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )

    def _protect_promoted_copies(self, promoters: str) -> None:
        """Promoted copies (``promoted/``) are written only by this environment's copier roles, and only new.

        A write without ``If-None-Match`` is refused, so no one (the training role included) can replace a copy
        being served ("Enforce conditional writes on Amazon S3 buckets": ``s3:if-none-match`` on PutObject and
        CompleteMultipartUpload, which ``s3:ObjectCreationOperation`` tells apart from the multipart part
        uploads that take no conditional header).
        """
        copies = self.artifact_bucket.arn_for_objects(f"{PROMOTED_PREFIX}*")
        self.artifact_bucket_resource.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyPromotionWritesPromotedCopies",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[copies],
                conditions={"StringNotLike": {"aws:PrincipalArn": promoters}},
            )
        )
        self.artifact_bucket_resource.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PromotedCopiesAreNeverOverwritten",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[copies],
                conditions={
                    "Null": {"s3:if-none-match": "true"},
                    "Bool": {"s3:ObjectCreationOperation": "true"},
                },
            )
        )

    def _let_promoters_read_packages(self, accounts: tuple[str, ...], promoters: list[str]) -> None:
        """The other environments' copier roles (by derived name) read package tarballs and baselines, nothing else.

        Only the outputs of the training steps a package records are readable (``REGISTRY_ARTIFACT_PATTERNS``):
        training splits, evaluation reports and predictions stay in this account. The key decrypts them for those
        roles through S3 only.
        """
        principals = [iam.AccountPrincipal(account) for account in accounts]
        # String operators on aws:PrincipalArn: every service accepts them ("AWS global condition context keys"),
        # while some have refused ARN operators on this key (SQS), so one form serves S3, KMS and SageMaker alike.
        only_promoters = {"StringLike": {"aws:PrincipalArn": promoters}}
        self.artifact_bucket_resource.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PromotersReadPackageArtifacts",
                principals=principals,
                actions=["s3:GetObject"],
                resources=[self.artifact_bucket.arn_for_objects(p) for p in REGISTRY_ARTIFACT_PATTERNS],
                conditions=only_promoters,
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PromotersDecryptPackageArtifactsViaS3",
                principals=principals,
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={
                    **only_promoters,
                    "StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"},
                },
            )
        )


def _send_events_to_eventbridge(bucket: s3.Bucket) -> None:
    """Turn on S3 -> EventBridge notifications (Object Created etc.) for ``bucket``."""
    resource = bucket.node.default_child
    assert isinstance(resource, s3.CfnBucket)
    resource.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
    )
