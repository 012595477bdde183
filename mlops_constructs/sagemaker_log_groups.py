"""Retention and the environment's key on the log groups SageMaker writes to but creates itself.

SageMaker jobs and endpoints log to account-wide groups named by SageMaker ("Log Amazon SageMaker AI events with
Amazon CloudWatch"): ``/aws/sagemaker/ProcessingJobs`` (processing steps, Model Monitor and Clarify jobs),
``/aws/sagemaker/TrainingJobs``, ``/aws/sagemaker/TransformJobs`` and ``/aws/sagemaker/Endpoints/<endpoint name>``.
When SageMaker creates one, it has no retention and no key. An ``AWS::Logs::LogGroup`` of the same name fails
wherever the group already exists (a job ran before the first deploy), so a custom resource adopts each group
instead: CreateLogGroup, tolerating ``ResourceAlreadyExistsException``; PutRetentionPolicy; AssociateKmsKey with the
environment's key (CloudWatch Logs API Reference: "CreateLogGroup", "PutRetentionPolicy", "AssociateKmsKey"; the
key's policy must let ``logs.<region>.amazonaws.com`` use it, ``DataStack._allow_service_use_of_key``). On Delete the
groups and their logs stay. Where the key goes with the stack (``retain_data: false``), Delete also calls
DisassociateKmsKey: a group left associated with a key pending deletion could no longer take new events, so the
account's next SageMaker job or endpoint would log nothing ("DisassociateKmsKey": new events are then stored
unencrypted by the key, earlier ones stay encrypted with it).

The three calls run from CDK's ``AwsCustomResource`` function with a role of this construct, allowed exactly these
three actions on exactly these log groups (Service Authorization Reference, "Actions, resources, and condition keys
for Amazon CloudWatch Logs": all three take the ``log-group`` resource type), and writing its own logs to a group
of its own, kept as long and encrypted with the same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

PROCESSING_JOBS: Final = "/aws/sagemaker/ProcessingJobs"
TRAINING_JOBS: Final = "/aws/sagemaker/TrainingJobs"
TRANSFORM_JOBS: Final = "/aws/sagemaker/TransformJobs"
# The actions the custom resource calls, each on a log-group resource.
ADOPT_ACTIONS: Final = ("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:AssociateKmsKey")
# And, when the key is not retained, on Delete.
RELEASE_KEY_ACTION: Final = "logs:DisassociateKmsKey"


def endpoint_log_group_name(endpoint_name: str) -> str:
    """The group SageMaker writes ``endpoint_name``'s container logs to."""
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def job_log_group_names(*, trains: bool) -> tuple[str, ...]:
    """The job groups of an environment: processing (pipelines' steps, Model Monitor, Clarify) and transform (batch
    inference) everywhere; training only where the environment trains."""
    return (PROCESSING_JOBS, TRAINING_JOBS, TRANSFORM_JOBS) if trains else (PROCESSING_JOBS, TRANSFORM_JOBS)


class SageMakerLogGroups(Construct):
    """Keeps the logs of ``log_group_names`` ``retention_days`` and encrypts new events with ``key``.

    Groups are created if missing and adopted if present; on Delete they stay (and keep their retention); with
    ``release_key_on_delete`` (for a key that is not retained) their key is disassociated first.
    ``log_group_arns`` are the groups' ARNs; ``role`` is the custom resource function's role (those three calls on
    those groups, and its own log group). ``key`` must let CloudWatch Logs of this account and region use it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_group_names: Sequence[str],
        retention_days: int,
        key: kms.IKey,
        release_key_on_delete: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        if not log_group_names:
            raise ValueError("SageMakerLogGroups: log_group_names is empty; name at least one log group")
        if len(set(log_group_names)) != len(log_group_names):
            raise ValueError(f"SageMakerLogGroups: log_group_names has duplicates: {list(log_group_names)}")
        stack = Stack.of(self)
        self.log_group_names = tuple(log_group_names)
        self.log_group_arns = tuple(
            stack.format_arn(
                service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
            )
            for name in self.log_group_names
        )
        self.log_group = logs.LogGroup(self, "Logs", encryption_key=key)
        log_group_resource = self.log_group.node.default_child
        assert isinstance(log_group_resource, logs.CfnLogGroup)
        log_group_resource.retention_in_days = retention_days
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Sets retention and the data key on the SageMaker log groups of this environment",
        )
        self.log_group.grant_write(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="AdoptSageMakerLogGroups",
                actions=[*ADOPT_ACTIONS, *([RELEASE_KEY_ACTION] if release_key_on_delete else [])],
                resources=list(self.log_group_arns),
            )
        )
        for index, name in enumerate(self.log_group_names):
            self._adopt(f"Group{index}", name, retention_days, key.key_arn, release_key_on_delete=release_key_on_delete)
        # The function is CDK's singleton of the stack (a child of the stack, named after its fixed UUID). W3005: CDK
        # adds an explicit DependsOn on the function's role next to the GetAtt of it (harmless).
        provider = stack.node.find_child("AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", ""))
        for child in provider.node.find_all():
            if isinstance(child, lambda_.CfnFunction):
                child.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})

    def _adopt(
        self, construct_id: str, name: str, retention_days: int, key_arn: str, *, release_key_on_delete: bool
    ) -> None:
        """Create (or find) ``name``, then set its retention and key; each call its own custom resource."""
        group = Construct(self, construct_id)
        physical_id = cr.PhysicalResourceId.of(name)

        def call(action: str, parameters: dict[str, object], **extra: object) -> cr.AwsSdkCall:
            return cr.AwsSdkCall(
                service="CloudWatchLogs",
                action=action,
                parameters=parameters,
                physical_resource_id=physical_id,
                **extra,  # type: ignore[arg-type]
            )

        create = call(
            "CreateLogGroup",
            {"logGroupName": name},
            # SageMaker (or an earlier deploy) may have created it: then adopt it as it is.
            ignore_error_codes_matching="ResourceAlreadyExistsException",
        )
        created = self._resource(group, "Create", create)
        retention = call("PutRetentionPolicy", {"logGroupName": name, "retentionInDays": retention_days})
        encryption = call("AssociateKmsKey", {"logGroupName": name, "kmsKeyId": key_arn})
        release = (
            # A group deleted by hand since must not block the stack's deletion.
            call("DisassociateKmsKey", {"logGroupName": name}, ignore_error_codes_matching="ResourceNotFoundException")
            if release_key_on_delete
            else None
        )
        self._resource(group, "Retention", retention).node.add_dependency(created)
        self._resource(group, "Key", encryption, on_delete=release).node.add_dependency(created)

    def _resource(
        self, scope: Construct, construct_id: str, call: cr.AwsSdkCall, *, on_delete: cr.AwsSdkCall | None = None
    ) -> cr.AwsCustomResource:
        return cr.AwsCustomResource(
            scope,
            construct_id,
            resource_type="Custom::SageMakerLogGroup",
            on_create=call,
            on_update=call,
            on_delete=on_delete,
            role=self.role,
            log_group=self.log_group,
            timeout=Duration.minutes(1),
            # Each call answers in seconds; don't let CloudFormation wait the default hour on a lost answer.
            service_timeout=Duration.minutes(2),
        )
