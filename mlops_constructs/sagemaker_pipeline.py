"""A SageMaker Pipeline deployed from a rendered definition, and its least-privilege execution role.

The definition is rendered offline at synth (``pipeline_defs.render``) with ``${Name}``
placeholders for deploy-time values; this construct resolves them with ``Fn::Sub``.

No value of that ``Fn::Sub`` variable map may be a cross-stack reference: with
``@aws-cdk/core:defaultCrossStackReferences: weak`` (cdk.json) CDK writes one as
``Fn::GetStackOutput``, and the AWS CloudFormation page "Fn::GetStackOutput" (Known
limitations) says that inside an ``Fn::Sub`` variable map it returns ``InternalFailure``.
``SageMakerPipeline`` refuses such a value at synth, and :func:`key_arn_from_parameter`
gives the one value that used to be one, the environment's data key, without it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import ArnFormat, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IValidation

from mlops_constructs.sagemaker_iam import grant_asset_read, grant_job_basics, grant_objects_read_write

# ``${Name}`` but not ``${!Name}`` (Fn::Sub's escape for a literal ``${``).
_PLACEHOLDER = re.compile(r"\$\{(?!!)([^}]*)\}")
# Resolved by Fn::Sub itself; never part of the variable map.
_PSEUDO_PARAMETER = re.compile(r"^AWS::[A-Za-z]+$")

PIPELINE_EXECUTION_ACTIONS = (
    "sagemaker:StartPipelineExecution",
    "sagemaker:DescribePipeline",
    "sagemaker:ListPipelineExecutions",
    "sagemaker:DescribePipelineExecution",
)


# What CDK writes for a reference to another stack's value (weak and strong references).
CROSS_STACK_FUNCTIONS = ("Fn::GetStackOutput", "Fn::ImportValue")


def placeholders_in(definition_json: str) -> set[str]:
    """The ``${Name}`` placeholders of a definition that need a substitution value."""
    return {name for name in _PLACEHOLDER.findall(definition_json) if not _PSEUDO_PARAMETER.match(name)}


def key_arn_from_parameter(scope: Construct, parameter_name: str, *, written_by: Stack | None = None) -> str:
    """The ARN of a KMS key in another stack, for a pipeline definition: read at deploy time from SSM.

    ``parameter_name`` is the String parameter the key's stack writes (``DataStack.key_arn_parameter_name``);
    ``written_by``, that stack, which ``scope``'s stack then deploys after (default: no dependency added).
    The value is a ``Ref`` to an ``AWS::SSM::Parameter::Value<String>`` parameter of ``scope``'s stack
    (AWS CloudFormation, "Specify existing resources at runtime with CloudFormation-supplied parameter types"):
    CloudFormation resolves it on every deploy, and it is no cross-stack reference.

    Why the key ARN and not the key's alias ARN (``arn:<partition>:kms:<region>:<account>:alias/<name>``, derivable
    without any reference): the definitions put the key into these fields, and botocore's SageMaker service model
    (2017-07-24, documentation of each member) lists the formats each accepts:

    - ``OutputDataConfig.KmsKeyId`` (training output), ``TransformOutput.KmsKeyId``,
      ``TransformResources.VolumeKmsKeyId``, ``BatchDataCaptureConfig.KmsKeyId``: key ID, key ARN, alias name, alias
      ARN;
    - ``ProcessingOutputConfig.KmsKeyId``: "an ID of a KMS key, ARN of a KMS key, or alias of a KMS key";
    - ``ResourceConfig.VolumeKmsKeyId`` (training volume): key ID or key ARN only, no alias;
    - ``ProcessingClusterConfig.VolumeKmsKeyId`` (processing and baselining volumes): no format documented.

    So an alias cannot serve every field, while the key ARN serves all of them. The execution roles' KMS grants
    name the key ARN, as IAM statements must ("Specifying KMS keys in IAM policy statements": a key ID, alias name
    or alias ARN does not identify a key there), so they hold for any identifier a job uses. (CreateModelPackage,
    the register step, takes no key: its model metrics and baselines are S3 URIs.)
    """
    if written_by is not None:
        Stack.of(scope).add_dependency(written_by, f"reads the SSM parameter {parameter_name} it writes")
    return ssm.StringParameter.value_for_string_parameter(scope, parameter_name)


def _cross_stack_references(value: Any, path: str = "") -> list[str]:
    """Paths inside a resolved template value where a cross-stack reference function is used."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in CROSS_STACK_FUNCTIONS:
                found.append(f"{key} at {path or 'the value'}")
            found.extend(_cross_stack_references(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_cross_stack_references(item, f"{path}[{index}]"))
    return found


@jsii.implements(IValidation)
class _NoCrossStackSubstitutions:
    """Synth-time check: no substitution value resolves to another stack's output."""

    def __init__(self, pipeline: SageMakerPipeline, substitutions: Mapping[str, str]) -> None:
        self._pipeline = pipeline
        self._substitutions = dict(substitutions)

    def validate(self) -> list[str]:
        stack = Stack.of(self._pipeline)
        errors = []
        for name, value in sorted(self._substitutions.items()):
            found = _cross_stack_references(stack.resolve(value))
            if found:
                errors.append(
                    f"SageMakerPipeline {self._pipeline.pipeline_name}: substitution {name!r} is a cross-stack "
                    f"reference ({', '.join(found)}). Inside an Fn::Sub variable map Fn::GetStackOutput fails at "
                    "deploy with InternalFailure (CloudFormation, Fn::GetStackOutput, Known limitations): pass a "
                    "value of this stack instead (a derived name, or an SSM parameter via key_arn_from_parameter)."
                )
        return errors


class SageMakerPipeline(Construct):
    """An ``AWS::SageMaker::Pipeline`` whose body is ``Fn::Sub(definition_json, substitutions)``.

    Every ``${X}`` in ``definition_json`` (other than ``${AWS::...}`` pseudo parameters and
    escaped ``${!X}``) must have a substitution, and every substitution must be used:
    a mismatch raises ``ValueError`` at synth instead of deploying a broken pipeline.
    A substitution that resolves to a cross-stack reference fails synth validation (see the
    module docstring). ``description`` defaults to none.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        definition_json: str,
        substitutions: Mapping[str, str],
        role: iam.IRole,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        used = placeholders_in(definition_json)
        missing = sorted(used - set(substitutions))
        unused = sorted(set(substitutions) - used)
        if missing or unused:
            raise ValueError(
                f"SageMakerPipeline {construct_id!r} ({pipeline_name}): placeholders without a "
                f"substitution: {missing or 'none'}; substitutions not used by the definition: "
                f"{unused or 'none'}."
            )
        self.pipeline_name = pipeline_name
        self.role = role
        self.resource = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_description=description,
            role_arn=role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": Fn.sub(definition_json, dict(substitutions))},
        )
        self.node.add_validation(_NoCrossStackSubstitutions(self, substitutions))
        stack = Stack.of(self)
        self.pipeline_arn = stack.format_arn(
            service="sagemaker",
            resource="pipeline",
            resource_name=pipeline_name.lower(),
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        # SageMaker lower-cases pipeline names in ARNs.
        self._executions_arn = stack.format_arn(
            service="sagemaker",
            resource="pipeline",
            resource_name=f"{pipeline_name.lower()}/execution/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start, describe and list executions of this pipeline (and nothing else)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(PIPELINE_EXECUTION_ACTIONS),
            resource_arns=[self.pipeline_arn, self._executions_arn],
        )


class PipelineExecutionRole(Construct):
    """The least-privilege role SageMaker assumes to run the training pipeline's jobs.

    Grants: read on ``data_bucket``; read and object writes (no delete, lock or tag) on
    ``artifact_bucket``; encrypt/decrypt on ``key``; read of the ``script_assets`` objects (not the
    bootstrap bucket); logs in ``/aws/sagemaker/*``; ECR pulls of exactly ``image_repositories``
    (the repository ARNs the rendered definition names, :func:`~mlops_constructs.sagemaker_iam.image_repository_arns`);
    create/describe/tag the processing and training jobs and model packages of this
    account and region; ``iam:PassRole`` on itself, to SageMaker only.

    cdk-nag findings this role triggers (to be acknowledged by the stack owner):
    ``AwsSolutions-IAM5`` for the S3/KMS grant wildcards (``bucket/*``, ``kms:GenerateDataKey*``,
    ``kms:ReEncrypt*``), the ``/aws/sagemaker/*`` log groups, the account/region-scoped
    ``sagemaker`` job ARNs (``processing-job/*``, ``training-job/*``,
    ``model-package/*``), and ``ecr:GetAuthorizationToken`` on ``*`` (the API takes no resource).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        key: kms.IKey,
        image_repositories: Sequence[str],
        script_assets: Sequence[s3_assets.Asset] = (),
        model_package_group_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if not image_repositories:
            raise ValueError("PipelineExecutionRole: image_repositories is empty; the jobs pull their images")
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs the jobs of a SageMaker training pipeline",
        )
        data_bucket.grant_read(self.role)
        grant_objects_read_write(artifact_bucket, self.role, "*")
        key.grant_encrypt_decrypt(self.role)
        for asset in script_assets:
            grant_asset_read(asset, self.role)

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(
                service="sagemaker",
                resource=resource,
                resource_name=name,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )

        grant_job_basics(self.role, image_repositories=image_repositories)
        group = model_package_group_name or "*"
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PipelineJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:CreateModelPackage",
                    "sagemaker:AddTags",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:ListModelPackages",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:StopTrainingJob",
                ],
                resources=[
                    arn("processing-job", "*"),
                    arn("training-job", "*"),
                    arn("model-package", f"{group}/*"),
                    arn("model-package-group", group),
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PassSelfToSageMaker",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
