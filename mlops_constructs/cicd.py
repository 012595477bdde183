"""Cross-account pieces of the CI/CD toolchain: roles the pipeline assumes and the model-approval trigger.

The pipeline runs in the tooling account; the registry and the endpoints live in the environments' accounts.
Each role here trusts exactly one named role of the tooling account (not the whole account), and each rule
matches only Approved packages of the project's own package groups.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.managed_policies import ExactGrantPolicies
from mlops_constructs.registry import REGISTRY_READ_ACTIONS, ModelPackageGroup

MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"


def role_arn_in(scope: Construct, *, account: str, role_name: str) -> str:
    """The ARN of role ``role_name`` in ``account`` (IAM is global: no region)."""
    return Stack.of(scope).format_arn(
        service="iam", region="", account=account, resource="role", resource_name=role_name
    )


def default_event_bus_arn(scope: Construct, *, account: str, region: str) -> str:
    """The ARN of the default event bus of ``account`` in ``region``."""
    return Stack.of(scope).format_arn(
        service="events", account=account, region=region, resource="event-bus", resource_name="default"
    )


def model_approved_pattern(package_group_names: Sequence[str], *, account: str | None = None) -> events.EventPattern:
    """Events of packages in ``package_group_names`` whose approval status is Approved (from ``account`` only).

    Pending and Rejected packages (and every other group) do not match, so they never start a release.
    """
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=[MODEL_PACKAGE_STATE_CHANGE],
        account=[account] if account else None,
        detail={
            "ModelPackageGroupName": sorted(package_group_names),
            "ModelApprovalStatus": ["Approved"],
        },
    )


class ToolingTrustedRole(Construct):
    """A role in this account that only the tooling account's role ``tooling_role_name`` may assume.

    The trust names the account and pins the caller's ARN in a condition instead of naming the role as the
    principal: IAM rejects a principal that does not exist yet, and this role is deployed before (and
    independently of) the pipeline stack that creates the caller. Sessions last at most one hour.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        tooling_account: str,
        tooling_role_name: str,
        description: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.trusted_role_arn = role_arn_in(self, account=tooling_account, role_name=tooling_role_name)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description=description,
            max_session_duration=Duration.hours(1),
            assumed_by=iam.AccountPrincipal(tooling_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": self.trusted_role_arn}}
            ),
        )


class RegistryReaderRole(ToolingTrustedRole):
    """Read-only access to the model registry for the pipeline's synth step (the approved-model resolver).

    Allows only ``sagemaker:ListModelPackages``, ``DescribeModelPackage`` and ``DescribeModelPackageGroup``
    on ``package_groups`` and their packages, listed exactly in customer managed policies under ``policy_path``
    (``ExactGrantPolicies``: two ARNs per model outgrow a role's inline quota at about 60 models).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        tooling_account: str,
        tooling_role_name: str,
        package_groups: Sequence[ModelPackageGroup],
        policy_path: str,
    ) -> None:
        """``policy_path``: as for ``EndpointInvokerRole``."""
        super().__init__(
            scope,
            construct_id,
            role_name=role_name,
            tooling_account=tooling_account,
            tooling_role_name=tooling_role_name,
            description="CI/CD synth step: read the approved model packages of the project's registry",
        )
        if not package_groups:
            raise ValueError("a registry reader needs at least one model package group")
        self.read = ExactGrantPolicies(
            self,
            "ReadRegistry",
            role=self.role,
            actions=list(REGISTRY_READ_ACTIONS),
            resources=[(group.group_arn, group.packages_arn) for group in package_groups],
            path=policy_path,
            description="CI/CD synth step: read the project's model package groups",
        )


class EndpointInvokerRole(ToolingTrustedRole):
    """Lets the pipeline's smoke test call ``sagemaker:InvokeEndpoint`` on ``endpoint_names`` and nothing else.

    The endpoint ARNs are listed exactly, in customer managed policies under ``policy_path`` (``ExactGrantPolicies``:
    one ARN per served model outgrows a role's inline quota at about 120 models).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        tooling_account: str,
        tooling_role_name: str,
        endpoint_names: Sequence[str],
        policy_path: str,
    ) -> None:
        """``policy_path`` is the IAM path of the managed policies: the project's ``naming.managed_policy_path``, the
        one path its CloudFormation execution policy may create policies in (E9072)."""
        super().__init__(
            scope,
            construct_id,
            role_name=role_name,
            tooling_account=tooling_account,
            tooling_role_name=tooling_role_name,
            description="CI/CD smoke test: invoke this environment's model endpoints",
        )
        if not endpoint_names:
            raise ValueError("an endpoint invoker needs at least one endpoint name")
        stack = Stack.of(self)
        self.endpoint_arns = [
            stack.format_arn(service="sagemaker", resource="endpoint", resource_name=name) for name in endpoint_names
        ]
        self.invoke = ExactGrantPolicies(
            self,
            "InvokeEndpoints",
            role=self.role,
            actions=["sagemaker:InvokeEndpoint"],
            resources=[(arn,) for arn in self.endpoint_arns],
            path=policy_path,
            description="CI/CD smoke test: invoke this environment's model endpoints",
        )


class ModelApprovalForwarder(Construct):
    """In the registry account: forward "package Approved" events of ``package_group_names`` to the tooling bus.

    The target is the tooling account's default event bus; its policy must accept this account (see
    ``ReleaseOnModelApproval``). EventBridge puts the events with a role that may only do that.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        package_group_names: Sequence[str],
        tooling_account: str,
        tooling_region: str,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        """Events the tooling bus does not accept go to ``dead_letter_queue`` (a standard queue)."""
        super().__init__(scope, construct_id)
        self.target_bus = events.EventBus.from_event_bus_arn(
            self,
            "ToolingBus",
            default_event_bus_arn(self, account=tooling_account, region=tooling_region),
        )
        self.rule = events.Rule(
            self,
            "Rule",
            description="Forward approved model packages to the CI/CD account: an approval starts a release",
            event_pattern=model_approved_pattern(package_group_names),
            targets=[targets.EventBus(self.target_bus, dead_letter_queue=dead_letter_queue)],
        )


class ReleaseOnModelApproval(Construct):
    """In the tooling account: accept the registry account's approval events and start ``pipeline`` on each.

    The default bus policy lets only ``registry_account`` put events, the rule matches only Approved packages
    of ``package_group_names`` coming from that account, and the rule's role may start only this pipeline.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: codepipeline.IPipeline,
        registry_account: str,
        package_group_names: Sequence[str],
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        """Approvals that fail to start the pipeline go to ``dead_letter_queue`` (a standard queue)."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
        self.bus_policy: events.CfnEventBusPolicy | None = None
        if registry_account != stack.account:
            # The L1 resource: the L2 EventBusPolicy cannot serialize a PolicyStatement passed from Python.
            self.bus_policy = events.CfnEventBusPolicy(
                self,
                "AcceptRegistryEvents",
                event_bus_name=bus.event_bus_name,
                statement_id=f"accept-model-approvals-from-{registry_account}",
                statement=iam.PolicyStatement(
                    sid=f"accept-model-approvals-from-{registry_account}",
                    principals=[iam.AccountPrincipal(registry_account)],
                    actions=["events:PutEvents"],
                    resources=[default_event_bus_arn(self, account=stack.account, region=stack.region)],
                    conditions={"StringEquals": {"events:source": "aws.sagemaker"}},
                ).to_statement_json(),
            )
        self.rule = events.Rule(
            self,
            "Rule",
            description="Start the release pipeline when a model package is approved in the registry",
            event_bus=bus,
            event_pattern=model_approved_pattern(package_group_names, account=registry_account),
            targets=[targets.CodePipeline(pipeline, dead_letter_queue=dead_letter_queue)],
        )
