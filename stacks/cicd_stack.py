"""CI/CD: a self-updating CDK pipeline in the tooling account that ships every environment in config order.

A push to the configured branch (or a model package approved in the registry) starts a release: the synth
step runs the test suite, resolves the approved model of each model from the registry and runs the main job
(`make synth`: lint, cdk synth with cdk-nag, cfn-lint); then each environment deploys in the order of
`environments`, behind a manual approval where `needs_manual_approval`, followed by a smoke test of its
endpoints where it serves models and is not the registry (training) environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import ArnFormat, Duration, Environment, PermissionsBoundary, RemovalPolicy, Stack, Stage, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from mlops_config import ConfigError, EnvironmentSettings, PlatformConfig, ToolingSettings
from mlops_constructs import naming
from mlops_constructs.cicd import (
    ReleaseOnModelApproval,
    role_arn_in,
)
from mlops_constructs.dead_letters import EventDeadLetters
from mlops_constructs.nag import acknowledge, nag_text
from mlops_constructs.pipeline_grants import (
    allow_log_encryption,
    bootstrap_bucket_arns,
    own_build_log_groups,
    scope_asset_publishing_builds,
    scope_self_mutation_listing,
)
from mlops_constructs.release_gates import (
    PipelineChangeGate,
    ReleaseApproverRole,
    ReleaseDiff,
    approval_action_arn,
    codebuild_history_url,
)
from mlops_constructs.storage import AccessLogBucket
from stacks.cicd_access_stack import (
    ACCESS_STACK_ID,
    REGISTRY_READER,
    SYNTH,
    CicdAccessStack,
    smoke_test_role_purpose,
    smoke_tested_endpoints,
)
from stacks.stage import MlopsStage

# The CLI the pipeline's self-mutation and asset steps install: the same as package.json pins for `make synth`
# (a test keeps the two equal), so a release never runs a newer or older CLI than the developers do.
CDK_CLI_VERSION = "2.1148.1"
# Construct IDs are a contract: renaming one replaces the deployed pipeline or the per-environment access stack.
CICD_STACK_ID = "Cicd"
# The README's commands; the Makefile installs the pinned venv, Node.js LTS and CDK CLI on first use.
TEST_COMMAND = "make test"
SYNTH_COMMAND = "make synth"
RESOLVE_COMMAND = (
    ".venv/bin/python scripts/resolve_approved_models.py --config config/platform.yaml "
    "--out approved-models.json "
    '--role-arn "$REGISTRY_READER_ROLE_ARN"'
)
# The resolver's output travels with the cloud assembly, so each smoke test checks exactly the packages this
# release deployed (and knows which endpoints must answer).
PUBLISH_APPROVED_COMMAND = "cp approved-models.json cdk.out/"
RELEASE_INPUT_DIR = "release"
SMOKE_TEST_PROFILE = "smoke-test"
# Ubuntu standard 7.0 carries both runtimes the build needs (jsii and the CDK CLI on Node 22, the app on 3.11).
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
# pipeline_defs/render.py's content cache, relative to the source directory.
RENDER_CACHE_PATH = ".pipeline-cache/**/*"
# scripts/synth_report.py's lint cache: a template that passed cfn-lint and the project rules before, with the same
# bytes, cfn-lint version, rules and .cfnlintrc.yaml, is not linted again (only passes are recorded).
LINT_CACHE_PATH = "build/lint-cache/**/*"
RUNTIME_VERSIONS = {"python": "3.11", "nodejs": "22"}

PIPELINE_CHANGE_CHECK = "pipeline-change-check"
# CDK Pipelines names the synth step's output artifact after the step ("Synth" + "_Output"); the gate before
# self-mutation reads the same artifact (a test pins it against the pipeline definition).
SYNTH_OUTPUT_ARTIFACT = "Synth_Output"


def approval_action_name(environment: str) -> str:
    """The manual approval action before ``environment`` (its stage is named after the environment)."""
    return f"Approve-{environment}"


def pipeline_stage_of(pipeline: codepipeline.Pipeline, action_name: str) -> str:
    """The name of the pipeline stage holding the action ``action_name``.

    Not always the environment's name: CDK Pipelines puts at most 50 actions into one pipeline stage (CodePipeline's
    quota, "Quotas in AWS CodePipeline": number of actions in a stage, maximum 50) and splits a larger deployment
    into stages ``<environment>.1``, ``<environment>.2``, ... (aws-cdk-lib ``pipelines/lib/codepipeline/
    codepipeline.ts``: ``chunkTranches(50, ...)``), which a platform of 50 models reaches in every environment.
    """
    for stage in pipeline.stages:
        if any(action.action_properties.action_name == action_name for action in stage.actions):
            return stage.stage_name
    raise ValueError(f"no action {action_name!r} in the pipeline; stages: {[s.stage_name for s in pipeline.stages]}")


def _require_connection(config: PlatformConfig) -> tuple[ToolingSettings, str]:
    tooling = config.tooling
    if tooling is None or tooling.connection_arn is None:
        raise ConfigError(
            "tooling.connection_arn: the CI/CD pipeline needs a tooling section with a CodeConnections ARN; "
            "allowed: set it, or synthesize without the pipeline (-c cicd=false)"
        )
    return tooling, tooling.connection_arn


class CicdStack(Stack):
    """The release pipeline (CDK Pipelines) in the tooling account, its triggers and its notifications."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        stages: Mapping[str, MlopsStage],
        **kwargs: Any,
    ) -> None:
        # The pipeline's template grows by one action per model stack: indented, it passes CloudFormation's 1 MB
        # template limit at about 190 models (1,090,479 bytes at 200); written compactly (the same JSON without
        # whitespace, as CDK's own size warning suggests) it is 39% smaller, 661,297 bytes at 200 models.
        kwargs.setdefault("suppress_template_indentation", True)
        super().__init__(scope, construct_id, **kwargs)
        tooling, connection_arn = _require_connection(config)
        missing = [env.name for env in config.environments if env.name not in stages]
        if missing:
            raise ConfigError(
                f"-c env: the pipeline deploys every environment, but {', '.join(missing)} is not synthesized; "
                "allowed: all environments, or no pipeline (-c cicd=false)"
            )
        project = config.project
        self.source = pipelines.CodePipelineSource.connection(
            tooling.repository, tooling.branch, connection_arn=connection_arn, trigger_on_push=True
        )
        build_spec = codebuild.BuildSpec.from_object({"phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}}})

        self.synth_role = self._build_role(naming.cicd_role_name(project, SYNTH), "CI/CD synth step (tests, synth)")
        reader_arn = role_arn_in(
            self, account=config.registry.account, role_name=naming.cicd_role_name(project, REGISTRY_READER)
        )
        self.synth_role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[reader_arn]))
        self.synth = pipelines.CodeBuildStep(
            "Synth",
            input=self.source,
            role=self.synth_role,
            env={"REGISTRY_READER_ROLE_ARN": reader_arn, "CI": "true"},
            commands=[TEST_COMMAND, RESOLVE_COMMAND, SYNTH_COMMAND, PUBLISH_APPROVED_COMMAND],
            primary_output_directory="cdk.out",
            # The pipeline-render and lint caches (entries named by the sha256 of what they render or passed) survive
            # between builds on the same host: a release renders only changed pipelines and lints only changed
            # templates ("Local caching - AWS CodeBuild": CUSTOM mode caches the directories the buildspec's cache
            # paths name).
            partial_build_spec=codebuild.BuildSpec.from_object(
                {
                    "phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}},
                    "cache": {"paths": [RENDER_CACHE_PATH, LINT_CACHE_PATH]},
                }
            ),
            cache=codebuild.Cache.local(codebuild.LocalCacheMode.CUSTOM),
            # The full test suite and a synth of every environment: 4 vCPUs keep a release under half an hour.
            build_environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.MEDIUM
            ),
            timeout=Duration.minutes(60),
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=naming.release_pipeline_name(project),
            synth=self.synth,
            cross_account_keys=True,
            enable_key_rotation=True,
            self_mutation=True,
            # One deploy action per stack instead of a prepare + execute pair: half the pipeline's actions and
            # template. CDK Pipelines splits an environment of more than 50 actions into stages <env>.1, <env>.2
            # (CodePipeline: at most 50 actions per stage, 50 stages; cfn_rules E9090, the bench counts them at 50
            # models). The review a change set would offer is the manual approval before production.
            use_change_sets=False,
            cli_version=CDK_CLI_VERSION,
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                partial_build_spec=build_spec,
            ),
        )
        self.smoke_tests: dict[str, pipelines.CodeBuildStep] = {}
        self.release_diffs: dict[str, ReleaseDiff] = {}
        self._step_roles: list[iam.Role] = []
        for environment in config.environments:
            pre: list[pipelines.Step] = []
            if environment.needs_manual_approval:
                diff = self._release_diff(config, environment, stages[environment.name], build_spec)
                approval = pipelines.ManualApprovalStep(
                    approval_action_name(environment.name),
                    comment=f"Promote this release to {environment.name} ({environment.account}, "
                    f"{environment.region}): review the {diff.step.id} build (cdk diff against what is deployed "
                    "there, linked) and the earlier smoke tests first.",
                    review_url=codebuild_history_url(self, diff.project_name),
                )
                # The diff runs first: the approval opens once the report is there.
                approval.add_step_dependency(diff.step)
                pre.extend([diff.step, approval])
                self.release_diffs[environment.name] = diff
            post: list[pipelines.Step] = []
            if smoke_tested_endpoints(config, environment):
                self.smoke_tests[environment.name] = self._smoke_test(config, environment, build_spec)
                post.append(self.smoke_tests[environment.name])
            self.pipeline.add_stage(stages[environment.name], pre=pre, post=post)
        self.pipeline.build_pipeline()
        built = self.pipeline.pipeline
        gate_role = self._build_role(
            naming.cicd_role_name(project, PIPELINE_CHANGE_CHECK), "CI/CD check of pipeline changes"
        )
        self._step_roles.append(gate_role)
        self.pipeline_change_gate = PipelineChangeGate(
            self,
            "PipelineChangeGate",
            pipeline=built,
            pipeline_name=naming.release_pipeline_name(project),
            synth_output=codepipeline.Artifact(SYNTH_OUTPUT_ARTIFACT),
            stack_name=self.stack_name,
            artifact_id=self.artifact_id,
            project_name=f"{project}-{PIPELINE_CHANGE_CHECK}",
            role=gate_role,
            build_image=BUILD_IMAGE,
            runtime_versions=RUNTIME_VERSIONS,
        )
        self.approver = ReleaseApproverRole(
            self,
            "ReleaseApprover",
            role_name=config.approver_role_name,
            pipeline=built,
            approval_arns=[
                self.pipeline_change_gate.approval_arn,
                *(
                    approval_action_arn(
                        self,
                        pipeline_name=naming.release_pipeline_name(project),
                        stage=pipeline_stage_of(built, approval_action_name(name)),
                        action=approval_action_name(name),
                    )
                    for name in self.release_diffs
                ),
            ],
            review_projects=[
                self.pipeline_change_gate.project_name,
                *(diff.project_name for diff in self.release_diffs.values()),
            ],
            principal_arns=tooling.approver_principal_arns,
        )
        self._acknowledge_review_grants()

        self.topic = self._notifications(config, tooling, built)
        self.release_dead_letters = EventDeadLetters(
            self,
            "ReleaseDeadLetters",
            key=self.notifications_key,
            purpose="model approvals that could not start the release pipeline",
            alarm_topic=self.topic,
        )
        self.release_on_approval = ReleaseOnModelApproval(
            self,
            "ReleaseOnModelApproval",
            dead_letter_queue=self.release_dead_letters.queue,
            pipeline=built,
            registry_account=config.registry.account,
            package_group_names=[naming.model_package_group_name(project, model.name) for model in config.models],
        )
        self._log_artifact_access(built.artifact_bucket)
        # Issue 13 (roles branch): the asset-publishing role starts only the asset-publishing projects.
        scope_asset_publishing_builds(self.pipeline)
        # Build logs with a retention, under the pipeline's own artifact key (issue 13 section 3, roles branch).
        artifact_key = built.artifact_bucket.encryption_key
        assert isinstance(artifact_key, kms.Key)
        allow_log_encryption(artifact_key)
        self.build_logs = own_build_log_groups(self, key=artifact_key)
        # Self-mutation lists only the CDK bootstrap buckets of the accounts this app deploys to (issue 13); after every
        # other grant to its role, since the statements are patched by index.
        scope_self_mutation_listing(
            self.pipeline,
            bootstrap_bucket_arns(
                self,
                [(self.account, self.region), *((env.account, env.region) for env in config.environments)],
            ),
        )
        self._lint_exceptions(built)
        self._acknowledge_generated_grants(
            built.artifact_bucket, [self.synth_role, *(step_role for step_role in self._step_roles)]
        )

    def _build_role(self, role_name: str, what: str) -> iam.Role:
        """A CodeBuild service role with a name the environments' accounts can trust before it exists."""
        return iam.Role(
            self,
            f"Role-{role_name}",
            role_name=role_name,
            description=f"{what}: CodeBuild; assumes only its one role in an environment account",
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
        )

    def _smoke_test(
        self, config: PlatformConfig, environment: EnvironmentSettings, build_spec: codebuild.BuildSpec
    ) -> pipelines.CodeBuildStep:
        """A post-deploy step that calls ``environment``'s endpoints through its ``EndpointInvokerRole``.

        CodeBuild runs in the tooling account and SageMaker endpoints take no resource policy, so the step's
        role may only assume the environment's invoker role, which may only invoke the endpoints. The AWS
        CLI profile makes boto3 in the script assume it with the build's container credentials.
        """
        purpose = smoke_test_role_purpose(environment.name)
        role_name = naming.cicd_role_name(config.project, purpose)
        role = self._build_role(role_name, f"CI/CD smoke test of {environment.name}")
        self._step_roles.append(role)
        invoker_arn = role_arn_in(self, account=environment.account, role_name=role_name)
        role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[invoker_arn]))
        return pipelines.CodeBuildStep(
            f"SmokeTest-{environment.name}",
            input=self.source,
            additional_inputs={RELEASE_INPUT_DIR: self.synth},
            role=role,
            env={
                "SMOKE_TEST_ROLE_ARN": invoker_arn,
                "AWS_REGION": environment.region,
                "AWS_DEFAULT_REGION": environment.region,
            },
            commands=[
                "make deps",
                f'aws configure set profile.{SMOKE_TEST_PROFILE}.role_arn "$SMOKE_TEST_ROLE_ARN"',
                f"aws configure set profile.{SMOKE_TEST_PROFILE}.credential_source EcsContainer",
                f"AWS_PROFILE={SMOKE_TEST_PROFILE} .venv/bin/python scripts/smoke_test.py "
                f"--config config/platform.yaml --environment {environment.name} "
                f"--approved-models {RELEASE_INPUT_DIR}/approved-models.json",
            ],
            partial_build_spec=build_spec,
            build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
            timeout=Duration.minutes(20),
        )

    def _release_diff(
        self,
        config: PlatformConfig,
        environment: EnvironmentSettings,
        stage: MlopsStage,
        build_spec: codebuild.BuildSpec,
    ) -> ReleaseDiff:
        """The ``cdk diff`` report of ``environment``'s stacks that its manual approval links to."""
        purpose = f"diff-{environment.name}"
        role = self._build_role(naming.cicd_role_name(config.project, purpose), f"CI/CD diff of {environment.name}")
        self._step_roles.append(role)
        stacks = [child for child in stage.node.find_all() if isinstance(child, Stack) and Stage.of(child) is stage]
        return ReleaseDiff(
            environment=environment.name,
            account=environment.account,
            region=environment.region,
            project_name=f"{config.project}-release-{purpose}",
            assembly_dir=stage.artifact_id,
            templates={child.stack_name: child.template_file for child in stacks},
            synth=self.synth,
            role=role,
            cli_version=CDK_CLI_VERSION,
            build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
            partial_build_spec=build_spec,
        )

    def _acknowledge_review_grants(self) -> None:
        """The two wildcards of the review roles, each naming exactly one resource family."""
        acknowledge(
            self.approver.role,
            "AwsSolutions-IAM5",
            "The approver reads the logs of the review builds (diff, pipeline-change check): CodeBuild names the "
            "log streams per build inside the projects' own log groups, so the grant is <group>:*.",
            applies_to=[f"Resource::{nag_text(self, arn)}" for arn in self.approver.log_group_arns],
        )
        stack_arn = self.format_arn(service="cloudformation", resource="stack", resource_name=f"{self.stack_name}/*")
        acknowledge(
            self.pipeline_change_gate.role,
            "AwsSolutions-IAM5",
            "The pipeline-change check reads the deployed template of this stack only; a stack ARN ends with the "
            "stack's generated ID, hence <stack name>/*.",
            applies_to=[f"Resource::{nag_text(self, stack_arn)}"],
        )

    def _notifications(
        self, config: PlatformConfig, tooling: ToolingSettings, pipeline: codepipeline.Pipeline
    ) -> sns.Topic:
        """Failed releases and approvals waiting go to an encrypted topic that the configured emails follow."""
        key = kms.Key(
            self,
            "NotificationsKey",
            description=f"{config.project} release pipeline notifications",
            enable_key_rotation=True,
        )
        self.notifications_key = key
        # The release trigger's dead-letter queue is encrypted with this key too.
        EventDeadLetters.allow_eventbridge_on_key(key)
        # CodeStar Notifications publishes to the encrypted topic through SNS; only that path may use the key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="NotificationsPublishThroughSns",
                principals=[iam.ServicePrincipal("codestar-notifications.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{self.region}.{self.url_suffix}"}},
            )
        )
        topic = sns.Topic(
            self,
            "Notifications",
            display_name=f"{config.project} release pipeline",
            master_key=key,
            enforce_ssl=True,
        )
        # The alarm on the release trigger's dead letters publishes here: CloudWatch needs the topic and its key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        for email in tooling.notification_emails:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        pipeline.notify_on(
            "NotifyOperators",
            topic,
            events=[
                codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
                codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
            ],
        )
        return topic

    def _log_artifact_access(self, artifact_bucket: s3.IBucket) -> None:
        """CDK Pipelines creates the artifact bucket; give it server access logs like every other bucket."""
        self.access_logs = AccessLogBucket(
            self, "AccessLogs", removal_policy=RemovalPolicy.RETAIN, expiration=Duration.days(365)
        )
        bucket = artifact_bucket.node.default_child
        assert isinstance(bucket, s3.CfnBucket)
        bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=self.access_logs.bucket_name, log_file_prefix="artifacts/"
        )
        # Issue 13 (roles branch): S3 can deliver only with the logging grant, and the artifacts are versioned.
        self.access_logs.allow_delivery_from(artifact_bucket, "artifacts/")
        bucket.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")

    def _acknowledge_generated_grants(self, artifact_bucket: s3.IBucket, build_roles: Sequence[iam.IRole]) -> None:
        """CDK Pipelines generates its roles' grants, some with wildcards: acknowledge each kind, with why."""
        bucket_arn = nag_text(self, artifact_bucket.bucket_arn)
        artifact_findings = [
            *(f"Action::{action}" for action in ARTIFACT_WILDCARD_ACTIONS),
            f"Resource::{bucket_arn}/*",
        ]
        for scope in (self.pipeline, *build_roles):
            acknowledge(
                scope,
                "AwsSolutions-IAM5",
                "CDK Pipelines grants its roles read/write on the pipeline's own artifact bucket and its KMS key "
                "(grantReadWrite): the wildcard actions and the object wildcard are scoped to that bucket and key.",
                applies_to=artifact_findings,
            )
        projects = [
            nag_text(self, construct.ref)
            for construct in self.node.find_all()
            if isinstance(construct, codebuild.CfnProject)
        ]
        for project in projects:
            acknowledge(
                self,
                "AwsSolutions-IAM5",
                "CodeBuild writes logs and test reports of this one project: CDK scopes the grant to the project's "
                "log group streams and report groups, whose names CodeBuild derives at run time.",
                applies_to=[
                    f"Resource::{nag_text(self, self._codebuild_logs_arn(project))}:*",
                    f"Resource::{nag_text(self, self._codebuild_reports_arn(project))}-*",
                ],
            )
        self_mutation = self.pipeline.node.try_find_child("UpdatePipeline")
        if self_mutation is not None:
            acknowledge(
                self_mutation,
                "AwsSolutions-IAM5",
                "Self-mutation runs `cdk deploy` of this stack: it reads stack status (DescribeStacks on *) and "
                "lists only the CDK bootstrap buckets, and assumes only the CDK bootstrap roles of the tooling "
                "account, selected by their aws-cdk:bootstrap-role tag (role/* with a tag condition).",
                applies_to=["Resource::*", f"Resource::arn:*:iam::{self.account}:role/*"],
            )
        assets = self.pipeline.node.try_find_child("Assets")
        if assets is not None:
            acknowledge(
                assets,
                "AwsSolutions-IAM5",
                "The asset-publishing role is shared by the generated publishing projects, which CDK creates after "
                "the role: it may start and watch builds and write their logs and reports, and assumes only the "
                "environments' file-publishing bootstrap roles.",
                applies_to=[
                    "Resource::*",
                    f"Resource::{nag_text(self, self._codebuild_logs_arn('*'))}",
                    f"Resource::{nag_text(self, self._codebuild_reports_arn('*'))}",
                ],
            )

    def _lint_exceptions(self, pipeline: codepipeline.Pipeline) -> None:
        """Two cfn-lint findings on what CDK Pipelines generates, ignored on the pipeline resource alone.

        E3703: the deploy actions' RoleArn is the target account's bootstrap role, an ``Fn::Join`` over the
        partition that cfn-lint cannot check against the role ARN format (the ARN is valid once resolved).
        W3005: CDK adds an explicit DependsOn on the pipeline role next to the GetAtt of it, to order the role's
        default policy too; harmless.
        """
        resource = pipeline.node.default_child
        assert isinstance(resource, codepipeline.CfnPipeline)
        resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3703", "W3005"]}})

    def _codebuild_logs_arn(self, project: str) -> str:
        return self.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/codebuild/{project}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _codebuild_reports_arn(self, project: str) -> str:
        return self.format_arn(service="codebuild", resource="report-group", resource_name=project)


# What `grantReadWrite` on the artifact bucket and key gives CDK Pipelines' roles.
ARTIFACT_WILDCARD_ACTIONS = (
    "s3:Abort*",
    "s3:DeleteObject*",
    "s3:GetBucket*",
    "s3:GetObject*",
    "s3:List*",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)


def add_cicd(app: Construct, config: PlatformConfig, stages: Mapping[str, MlopsStage]) -> CicdStack:
    """Give every stage its CI/CD access stack, then create the pipeline stack that deploys them all."""
    tooling, _ = _require_connection(config)
    for name, stage in stages.items():
        environment = config.environment(name)
        CicdAccessStack(
            stage,
            ACCESS_STACK_ID,
            config=config,
            environment=environment,
            tooling=tooling,
            package_groups=stage.data.package_groups,
            key=stage.data.key,
            topic=stage.data.topic,
            stack_name=naming.stack_name(config.project, name, "cicd-access"),
            description=f"{config.project} {name}: roles the CI/CD account assumes here, model-approval forwarding",
        )  # tagged with its stage's resources (stacks.tagging)
    return CicdStack(
        app,
        CICD_STACK_ID,
        config=config,
        stages=stages,
        env=Environment(account=tooling.account, region=tooling.region),
        stack_name=naming.stack_name(config.project, "tooling", "cicd"),
        description=f"{config.project} release pipeline: tests, synth and deployment of every environment",
        tags={"project": config.project, "environment": "tooling"},
        # The same boundary as the environments' roles, from the tooling account's own copy of the policy.
        permissions_boundary=PermissionsBoundary.from_name(config.permissions_boundary_name),
    )


__all__: Sequence[str] = (
    "ACCESS_STACK_ID",
    "CDK_CLI_VERSION",
    "CICD_STACK_ID",
    "CicdAccessStack",
    "CicdStack",
    "add_cicd",
    "smoke_tested_endpoints",
)
