"""What a person reviews before the release pipeline changes production or itself, and who may approve.

- ``ReleaseDiff``: a build step before a manual approval that prints ``cdk diff`` of the release's stacks of one
  environment against what is deployed there, read through that account's CDK lookup role (read-only).
- ``PipelineChangeGate``: a stage before CDK Pipelines' self-mutation holding a manual approval and a check
  (``mlops_constructs.pipeline_change_gate``) that approves it only when the pipeline's stages, IAM, resource
  policies and build projects are unchanged.
- ``ReleaseApproverRole``: the one role of the tooling account that may answer these approvals
  (``codepipeline:PutApprovalResult`` on exactly those actions; CodePipeline guide, "Grant approval permissions to
  an IAM user in CodePipeline").
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import ArnFormat, DefaultStackSynthesizer, Duration, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.cicd import role_arn_in

GATE_SCRIPT = Path(__file__).with_name("pipeline_change_gate.py")
GATE_STAGE = "ReviewPipelineChange"
GATE_CHECK_ACTION = "CheckPipelineChange"
GATE_APPROVAL_ACTION = "ApprovePipelineChange"
SELF_MUTATION_STAGE = "UpdatePipeline"


def approval_action_arn(scope: Construct, *, pipeline_name: str, stage: str, action: str) -> str:
    """The resource ``codepipeline:PutApprovalResult`` needs: ``<pipeline ARN>/<stage>/<action>``.

    The ARN form is the one of "Grant approval permissions to an IAM user in CodePipeline" (CodePipeline guide).
    """
    return Stack.of(scope).format_arn(
        service="codepipeline",
        resource=pipeline_name,
        resource_name=f"{stage}/{action}",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def codebuild_history_url(scope: Construct, project_name: str) -> str:
    """The console page listing ``project_name``'s builds: the approval's review link."""
    stack = Stack.of(scope)
    return (
        f"https://{stack.region}.console.aws.amazon.com/codesuite/codebuild/{stack.account}/projects/"
        f"{project_name}/history?region={stack.region}"
    )


def lookup_role_arn(scope: Construct, *, account: str, region: str) -> str:
    """The CDK bootstrap lookup role of ``account``/``region`` (ReadOnlyAccess, no kms:Decrypt; trusted by --trust)."""
    qualifier = DefaultStackSynthesizer.DEFAULT_QUALIFIER
    return role_arn_in(scope, account=account, role_name=f"cdk-{qualifier}-lookup-role-{account}-{region}")


class ReleaseDiff:
    """A ``CodeBuildStep`` printing ``cdk diff`` of one environment's stacks of this release against its account.

    ``templates`` maps each stack's name to the template file (relative to the cloud assembly) that the pipeline's
    deploy action uses: the step first fails unless the assembly's manifest names exactly those files for exactly
    those stacks, so the diff shown is the diff of what will be deployed. The build runs ``cdk diff`` with the
    pinned CLI and the environment's lookup role (the CLI uses it for diff; aws-cdk pull request 18277), without a
    change set (which would need the deploy role).
    """

    def __init__(
        self,
        *,
        environment: str,
        account: str,
        region: str,
        project_name: str,
        assembly_dir: str,
        templates: Mapping[str, str],
        synth: pipelines.IFileSetProducer,
        role: iam.Role,
        cli_version: str,
        build_environment: codebuild.BuildEnvironment,
        partial_build_spec: codebuild.BuildSpec,
    ) -> None:
        self.project_name = project_name
        self.lookup_role_arn = lookup_role_arn(role, account=account, region=region)
        role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[self.lookup_role_arn]))
        expected = json.dumps({"dir": assembly_dir, "templates": dict(sorted(templates.items()))}, sort_keys=True)
        guard = (
            "import json,os,sys; e=json.loads(os.environ['EXPECTED_TEMPLATES']); "
            "m=json.load(open(os.path.join(e['dir'],'manifest.json'))); "
            "a={v['properties'].get('stackName'):os.path.join(e['dir'],v['properties']['templateFile']) "
            "for v in m['artifacts'].values() if v['type']=='aws:cloudformation:stack'}; "
            "w={k:os.path.join(e['dir'],v) for k,v in e['templates'].items()}; "
            "sys.exit(0 if a==w else 'the assembly does not deploy the templates the pipeline deploys: %r' % a)"
        )
        self.step = pipelines.CodeBuildStep(
            f"Diff-{environment}",
            input=synth,
            role=role,
            project_name=project_name,
            env={"EXPECTED_TEMPLATES": expected},
            commands=[
                f'python3 -c "{guard}"',
                f"npx --yes aws-cdk@{cli_version} diff --app . --no-change-set --no-color '{environment}/*'",
            ],
            build_environment=build_environment,
            partial_build_spec=partial_build_spec,
            timeout=Duration.minutes(20),
        )


class ReleaseApproverRole(Construct):
    """The tooling-account role that may approve the pipeline's manual approvals, and only that.

    It may ``codepipeline:PutApprovalResult`` on ``approval_arns``, read the pipeline's state and read the builds and
    logs of ``review_projects`` (the diff and the pipeline-change check). Assumable by principals of the tooling
    account, narrowed to ``principal_arns`` (``aws:PrincipalArn``, wildcards allowed) when given.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        pipeline: codepipeline.IPipeline,
        approval_arns: Sequence[str],
        review_projects: Sequence[str],
        principal_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if not approval_arns:
            raise ValueError("an approver role needs at least one approval action")
        stack = Stack.of(self)
        principal: iam.IPrincipal = iam.AccountPrincipal(stack.account)
        if principal_arns:
            principal = iam.AccountPrincipal(stack.account).with_conditions(
                {"ArnLike": {"aws:PrincipalArn": sorted(principal_arns)}}
            )
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Approves the release pipeline's manual approvals (production, pipeline changes); nothing else",
            max_session_duration=Duration.hours(1),
            assumed_by=principal,
        )
        self.approval_arns = list(approval_arns)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="AnswerTheReleaseApprovals",
                actions=["codepipeline:PutApprovalResult"],
                resources=list(self.approval_arns),
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheReleasePipeline",
                actions=[
                    "codepipeline:GetPipeline",
                    "codepipeline:GetPipelineExecution",
                    "codepipeline:GetPipelineState",
                    "codepipeline:ListActionExecutions",
                    "codepipeline:ListPipelineExecutions",
                ],
                resources=[pipeline.pipeline_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheReviewBuilds",
                actions=["codebuild:BatchGetBuilds", "codebuild:ListBuildsForProject"],
                resources=[
                    stack.format_arn(service="codebuild", resource="project", resource_name=name)
                    for name in review_projects
                ],
            )
        )
        self.log_group_arns = [
            stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"/aws/codebuild/{name}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for name in review_projects
        ]
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheReviewLogs", actions=["logs:GetLogEvents"], resources=list(self.log_group_arns)
            )
        )


def gate_build_spec(
    *, stack_name: str, artifact_id: str, pipeline_name: str, runtime_versions: Mapping[str, str]
) -> codebuild.BuildSpec:
    """The check's buildspec, with the check's source embedded (base64) so that the deployed check is what runs."""
    source = base64.b64encode(GATE_SCRIPT.read_bytes()).decode("ascii")
    return codebuild.BuildSpec.from_object(
        {
            "version": "0.2",
            "env": {"variables": {"GATE_SOURCE": source}},
            "phases": {
                "install": {"runtime-versions": dict(runtime_versions)},
                "build": {
                    "commands": [
                        # Outside the assembly (which the commit under review wrote), and run isolated (-I): no
                        # module of the assembly's directory can shadow the standard library the check imports.
                        'echo "$GATE_SOURCE" | base64 -d > "$HOME/pipeline_change_gate.py"',
                        'python3 -I "$HOME/pipeline_change_gate.py" --assembly . '
                        f"--artifact-id {artifact_id} --stack-name {stack_name} --pipeline {pipeline_name} "
                        f"--stage {GATE_STAGE} --action {GATE_APPROVAL_ACTION} "
                        '--execution-id "$PIPELINE_EXECUTION_ID"',
                    ]
                },
            },
        }
    )


class PipelineChangeGate(Construct):
    """A stage right before self-mutation: a manual approval that the check approves when nothing relevant changed.

    ``pipeline_name`` is ``pipeline``'s literal name: the check's buildspec names it, and a reference would make
    the pipeline and its own project depend on each other.

    Both actions run together (same run order): the approval waits, the check reads the proposed and the deployed
    pipeline stack templates and either approves it (unchanged review surface) or prints what changed and leaves
    it to the approver role. The check's role may read only the pipeline stack's template and the pipeline's
    state, and approve only this one action.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: codepipeline.Pipeline,
        pipeline_name: str,
        synth_output: codepipeline.Artifact,
        stack_name: str,
        artifact_id: str,
        project_name: str,
        role: iam.Role,
        build_image: codebuild.IBuildImage,
        runtime_versions: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.project_name = project_name
        self.role = role
        self.approval_arn = approval_action_arn(
            self, pipeline_name=pipeline_name, stage=GATE_STAGE, action=GATE_APPROVAL_ACTION
        )
        self.project = codebuild.PipelineProject(
            self,
            "Check",
            project_name=project_name,
            description="Approves a pipeline change when its stages, IAM, resource policies and builds are as deployed",
            role=role,
            encryption_key=pipeline.artifact_bucket.encryption_key,
            environment=codebuild.BuildEnvironment(build_image=build_image),
            build_spec=gate_build_spec(
                stack_name=stack_name,
                artifact_id=artifact_id,
                pipeline_name=pipeline_name,
                runtime_versions=runtime_versions,
            ),
            timeout=Duration.minutes(15),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheDeployedPipelineStack",
                actions=["cloudformation:GetTemplate"],
                resources=[
                    stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{stack_name}/*")
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SeeTheApproval", actions=["codepipeline:GetPipelineState"], resources=[pipeline.pipeline_arn]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ApproveOnlyAnUnchangedPipeline",
                actions=["codepipeline:PutApprovalResult"],
                resources=[self.approval_arn],
            )
        )
        self.approval = actions.ManualApprovalAction(
            action_name=GATE_APPROVAL_ACTION,
            run_order=1,
            additional_information=(
                "The pipeline is about to update itself. Approved automatically when its stages, IAM, resource "
                "policies and build projects are unchanged; otherwise the CheckPipelineChange log lists what changed."
            ),
            external_entity_link=codebuild_history_url(self, project_name),
        )
        self.check = actions.CodeBuildAction(
            action_name=GATE_CHECK_ACTION,
            run_order=1,
            project=self.project,
            input=synth_output,
            environment_variables={
                "PIPELINE_EXECUTION_ID": codebuild.BuildEnvironmentVariable(value="#{codepipeline.PipelineExecutionId}")
            },
        )
        pipeline.add_stage(
            stage_name=GATE_STAGE,
            placement=codepipeline.StagePlacement(right_before=pipeline.stage(SELF_MUTATION_STAGE)),
            actions=[self.check, self.approval],
        )
