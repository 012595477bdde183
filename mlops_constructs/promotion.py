"""Promotion: an approved model package copied, verified, into the serving environment's own models bucket.

Every environment that serves a model (the registry's own included, so there is one path) runs a copier: a
Lambda-backed CloudFormation custom resource, so that both the release pipeline and a plain ``cdk deploy`` copy.
Given the package ARN it reads the package in the registry, streams the model tarball checking its SHA-256
against the package's ``ModelArtifactSha256`` customer metadata, and writes it and the package's baselines with
S3 conditional writes (``If-None-Match: *``) under :func:`promoted_paths`, SSE-KMS with the environment's key.
The serving Model, the batch pipeline and every monitor then read only that copy.

Why conditional writes and not S3 Object Lock: Object Lock protects object *versions* from deletion, but a new
PUT to the same key still creates a new current version, which is what ``ModelDataUrl`` (no version ID) reads;
conditional writes refuse the second write of the key itself ("How to prevent object overwrites with conditional
writes"), and a bucket policy can require them ("Enforce conditional writes on Amazon S3 buckets"). Object Lock
in compliance mode would also make a non-retained (dev) environment impossible to tear down.

The one cross-account read left is the copier's: its role, by derived name (:func:`promotion_role_name`), may
read the registry's model tarballs and baselines (the training pipeline's outputs of those steps, see
:data:`REGISTRY_ARTIFACT_PATTERNS`) and decrypt them through S3 only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aws_cdk import ArnFormat, CfnOutput, CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_config.model_kind import XGBOOST_IMAGE, ImageSettings
from mlops_constructs.endpoint import ModelArtifactSource
from mlops_constructs.images import ServingImage
from mlops_constructs.lambda_runtime import (
    acknowledge_pinned_runtime,
    python_function,
)
from mlops_constructs.nag import acknowledge, resource_finding

FUNCTION_DIR: Final = Path(__file__).resolve().parent.parent / "lambda" / "promote_model"
PROMOTED_PREFIX: Final = "promoted/"
ARTIFACT_NAME: Final = "model.tar.gz"

# Files below a promoted version's baselines prefix, in the layout the monitors read. "training" feeds the open
# drift backend; the rest Model Monitor.
BASELINE_FILES: Final[Mapping[str, str]] = {
    "training": "training/baseline.csv",
    "data_statistics": "data-quality/statistics.json",
    "data_constraints": "data-quality/constraints.json",
    "model_quality_constraints": "model-quality/constraints.json",
    "bias_config": "bias/analysis_config.json",
    "bias_constraints": "bias/constraints.json",
    "explainability_config": "explainability/analysis_config.json",
    "explainability_constraints": "explainability/constraints.json",
}
# Where the package records each baseline: DescribeModelPackage's DriftCheckBaselines.<section>.<field>.S3Uri, or
# (section "CustomerMetadata") the customer metadata value named <field>. Model Monitor's model-quality job takes
# constraints only; Clarify's bias monitor checks post-training constraints.
BASELINE_SOURCES: Final[Mapping[str, tuple[str, str]]] = {
    "training": ("CustomerMetadata", "TrainingBaselineS3Uri"),
    "data_statistics": ("ModelDataQuality", "Statistics"),
    "data_constraints": ("ModelDataQuality", "Constraints"),
    "model_quality_constraints": ("ModelQuality", "Constraints"),
    "bias_config": ("Bias", "ConfigFile"),
    "bias_constraints": ("Bias", "PostTrainingConstraints"),
    "explainability_config": ("Explainability", "ConfigFile"),
    "explainability_constraints": ("Explainability", "Constraints"),
}
# The baselines each Model Monitor kind reads.
KIND_BASELINES: Final[Mapping[str, tuple[str, ...]]] = {
    "data-quality": ("data_statistics", "data_constraints"),
    "model-quality": ("model_quality_constraints",),
    "bias": ("bias_config", "bias_constraints"),
    "explainability": ("explainability_config", "explainability_constraints"),
}
# Where the training pipeline (pipeline_defs/training_pipeline.py, output prefix = the model's name) writes what a
# package records: <model>/<execution>/<step>/..., the tarball under the Train step's job folder, the baselines
# under the two baselining steps and the Preprocess step's "baseline" output. Splits, evaluation and predictions
# stay unreadable from other accounts. A test ties these to the pipeline's step names.
REGISTRY_ARTIFACT_PATTERNS: Final[tuple[str, ...]] = (
    "*/Train/*/output/model.tar.gz",
    "*/DataQualityBaseline/*",
    "*/ModelQualityBaseline/*",
    "*/Preprocess/baseline/*",
)


@dataclass(frozen=True)
class PromotedPaths:
    """Keys of one promoted package version in an environment's models bucket (the one naming function)."""

    model: str
    version: int

    @property
    def prefix(self) -> str:
        """``promoted/<model>/v<version>/``."""
        return f"{PROMOTED_PREFIX}{self.model}/v{self.version}/"

    @property
    def artifact_key(self) -> str:
        """The model tarball's copy."""
        return f"{self.prefix}{ARTIFACT_NAME}"

    @property
    def baselines_prefix(self) -> str:
        """Where the baselines of this version live, in the layout of :data:`BASELINE_FILES`."""
        return f"{self.prefix}baselines/"

    def baseline_key(self, name: str) -> str:
        """The copy of baseline ``name`` (a key of :data:`BASELINE_FILES`)."""
        if name not in BASELINE_FILES:
            raise ValueError(f"baseline {name!r}; allowed: {', '.join(BASELINE_FILES)}")
        return f"{self.baselines_prefix}{BASELINE_FILES[name]}"


def promoted_paths(model: str, version: int) -> PromotedPaths:
    """Where version ``version`` of ``model`` is promoted: the copier writes there, serving and monitors read."""
    if version < 1:
        raise ValueError(f"model package version {version}; allowed: >= 1")
    return PromotedPaths(model=model, version=version)


def package_version(package_arn: str) -> int:
    """The version of a versioned model package ARN (``.../model-package/<group>/<version>``)."""
    tail = package_arn.rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise ValueError(f"{package_arn!r} is not a versioned model package ARN")
    return int(tail)


def baseline_specs(paths: PromotedPaths) -> list[dict[str, str]]:
    """The copier's ``Baselines`` property: for every baseline, where the package records it and where it goes."""
    return [
        {"Name": name, "Section": section, "Field": field, "Key": paths.baseline_key(name)}
        for name, (section, field) in BASELINE_SOURCES.items()
    ]


def required_baselines(kinds: Iterable[str]) -> list[str]:
    """The baselines the Model Monitor ``kinds`` need: promotion fails, naming them, if the package lacks one.

    The open backend's training baseline is copied when the package records it (``TrainingBaselineS3Uri``
    customer metadata) but not required, so that a package from a pipeline that does not record it still serves;
    the drift pipeline then fails per run and notifies until a version that records it is promoted.
    """
    return sorted({name for kind in kinds for name in KIND_BASELINES[kind]})


def promotion_role_name(project: str, environment: str, model: str) -> str:
    """The copier role of ``model`` in ``environment``: the registry grants by this derived name (<= 58 chars)."""
    return f"{project}-{environment}-promote-{model}"


def promotion_role_pattern(project: str, environment: str) -> str:
    """Every copier role name of ``environment`` (an IAM ARN wildcard on the resource part)."""
    return f"{project}-{environment}-promote-*"


@dataclass(frozen=True)
class RegistrySource:
    """The registry environment's artifact bucket and key, as the copier reads them.

    In the registry's own account ``key`` is granted directly. From another account no key reference can cross:
    decryption is allowed for keys of the registry account that carry the registry key's alias, through S3 only.
    """

    bucket: s3.IBucket
    key: kms.IKey | None = None
    key_account: str | None = None
    key_region: str | None = None
    key_alias: str | None = None

    def __post_init__(self) -> None:
        """Exactly one way to reach the key: the key itself, or its account, region and alias."""
        remote = (self.key_account, self.key_region, self.key_alias)
        if (self.key is None) == (None in remote):
            raise ValueError("RegistrySource: give either key, or key_account, key_region and key_alias")

    def artifact_objects(self, model: str) -> list[str]:
        """ARNs of ``model``'s tarballs and baselines in the registry bucket (training pipeline outputs)."""
        return [self.bucket.arn_for_objects(f"{model}/{pattern}") for pattern in REGISTRY_ARTIFACT_PATTERNS]

    def remote_keys(self) -> str:
        """The registry account's keys (an ARN pattern): what a copier in another account may decrypt with."""
        return Stack.of(self.bucket).format_arn(
            service="kms", resource="key", resource_name="*", account=self.key_account, region=self.key_region
        )

    def grant_read_artifacts(self, grantee: iam.IGrantable, model: str) -> None:
        """Let ``grantee`` read ``model``'s tarballs and baselines and decrypt them (nothing else of the bucket)."""
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadRegistryPackageArtifacts", actions=["s3:GetObject"], resources=self.artifact_objects(model)
            )
        )
        if self.key is not None:
            self.key.grant_decrypt(grantee)
            return
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DecryptRegistryArtifactsViaS3",
                actions=["kms:Decrypt"],
                resources=[self.remote_keys()],
                conditions={
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": self.key_alias},
                    "StringEquals": {"kms:ViaService": f"s3.{self.key_region}.amazonaws.com"},
                },
            )
        )


class ModelPromotion(Construct):
    """The copier and its custom resource for one model package in one environment.

    ``bucket`` and ``key`` are the environment's models bucket and data key; ``registry`` where the package's
    artifacts are read; ``required`` the baselines this environment's monitors need (promotion fails naming any
    the package lacks); ``image`` the model's ``images.serving`` (default the AWS XGBoost 1.7-1 image): promotion
    fails unless the package's image comes from that image's repository (a digest-pinned user image: is exactly
    that image). The copy is retained when the resource is deleted or replaced. Exposes ``paths``, the
    deploy-time attributes ``model_data_url``, ``image``, ``artifact_sha256``, ``source_model_data_url``, and
    ``artifact`` (a :class:`ModelArtifactSource` for models and batch jobs).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        environment: str,
        model: str,
        package_arn: str,
        bucket: s3.IBucket,
        key: kms.IKey,
        registry: RegistrySource,
        required: Sequence[str] = (),
        image: ImageSettings = XGBOOST_IMAGE,
        log_retention_days: int = 365,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.package_arn = package_arn
        self.paths = promoted_paths(model, package_version(package_arn))
        self.role = iam.Role(
            self,
            "Role",
            role_name=promotion_role_name(project, environment, model),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Copies approved packages of {model} into the {environment} models bucket",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribePromotedPackage", actions=["sagemaker:DescribeModelPackage"], resources=[package_arn]
            )
        )
        registry.grant_read_artifacts(self.role, model)
        copies = bucket.arn_for_objects(f"{PROMOTED_PREFIX}{model}/*")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteAndVerifyPromotedCopies",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[copies],
            )
        )
        # Without s3:ListBucket, S3 answers a HEAD of a missing key with 403 instead of 404 (API reference,
        # "HeadObject", Permissions).
        self.role.add_to_policy(
            iam.PolicyStatement(sid="FindPromotedCopies", actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
        )
        # Uploading or downloading an SSE-KMS object needs kms:GenerateDataKey and kms:Decrypt ("Multipart upload API
        # and permissions"; the verification also reads the copy back).
        key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")

        self.log_group = logs.LogGroup(self, "Logs", encryption_key=key)
        log_group_resource = self.log_group.node.default_child
        assert isinstance(log_group_resource, logs.CfnLogGroup)
        log_group_resource.retention_in_days = log_retention_days
        self.log_group.grant_write(self.role)
        self.function = python_function(
            self,
            "Function",
            description=f"Copies approved {model} packages into this environment (custom resource)",
            code_dir=FUNCTION_DIR,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # Parts of 64 MiB are held in memory while hashed and uploaded.
            memory_size=1024,
            timeout=Duration.minutes(15),
            environment={"POWERTOOLS_SERVICE_NAME": "promote-model"},
        )
        function_resource = self.function.node.default_child
        assert isinstance(function_resource, lambda_.CfnFunction)
        # W3005: CDK adds an explicit DependsOn on the role next to the GetAtt of it, to order the role's default
        # policy before the function too; harmless (as for the monitor bridge).
        function_resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})

        accepted = ServingImage.resolve(image, stack.region).accepted_images(stack)
        self.resource = CustomResource(
            self,
            "Copy",
            service_token=self.function.function_arn,
            resource_type="Custom::ModelPromotion",
            # The function answers within its 15-minute timeout; don't let CloudFormation wait the default hour
            # (AWS::CloudFormation::CustomResource: ServiceTimeout, 1-3600 seconds, default 3600).
            service_timeout=Duration.minutes(16),
            properties={
                "PackageArn": package_arn,
                "Bucket": bucket.bucket_name,
                "KmsKeyArn": key.key_arn,
                "ArtifactKey": self.paths.artifact_key,
                "Baselines": baseline_specs(self.paths),
                "RequiredBaselines": list(required),
                **accepted,
            },
        )
        self._bucket, self._key, self._model, self._accepted = bucket, key, model, accepted
        self.model_data_url = self.resource.get_att_string("ModelDataUrl")
        self.image = self.resource.get_att_string("Image")
        self.artifact_sha256 = self.resource.get_att_string("ArtifactSha256")
        self.source_model_data_url = self.resource.get_att_string("SourceModelDataUrl")
        self.artifact = ModelArtifactSource(
            bucket=bucket,
            key=key,
            object_key=self.paths.artifact_key,
            model_data_url=self.model_data_url,
            image=self.image,
            package_arn=package_arn,
        )
        self._acknowledge(bucket, registry, model)

    def promote_another(self, construct_id: str, package_arn: str) -> ModelArtifactSource:
        """Promote a second package of the same model with this copier (a shadow test's production version).

        The same function and role (now allowed to describe ``package_arn`` too) copy it, verified and write-once,
        to its own ``promoted/<model>/v<version>/``; a version promoted before is only verified again.
        """
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[package_arn])
        )
        paths = promoted_paths(self._model, package_version(package_arn))
        resource = CustomResource(
            self,
            construct_id,
            service_token=self.function.function_arn,
            resource_type="Custom::ModelPromotion",
            service_timeout=Duration.minutes(16),
            properties={
                "PackageArn": package_arn,
                "Bucket": self._bucket.bucket_name,
                "KmsKeyArn": self._key.key_arn,
                "ArtifactKey": paths.artifact_key,
                "Baselines": baseline_specs(paths),
                "RequiredBaselines": [],
                **self._accepted,
            },
        )
        return ModelArtifactSource(
            bucket=self._bucket,
            key=self._key,
            object_key=paths.artifact_key,
            model_data_url=resource.get_att_string("ModelDataUrl"),
            image=resource.get_att_string("Image"),
            package_arn=package_arn,
        )

    def baseline_uri(self, bucket: s3.IBucket, name: str) -> str:
        """The S3 URI of baseline ``name``'s copy in ``bucket``."""
        return bucket.s3_url_for_object(self.paths.baseline_key(name))

    def add_outputs(self, scope: Construct) -> None:
        """Lineage as stack outputs: the package served, the artifact's hash and where its copy lives."""
        CfnOutput(scope, "ServedModelPackageArn", value=self.package_arn, description="The model package served")
        CfnOutput(scope, "ModelArtifactSha256", value=self.artifact_sha256, description="SHA-256 of model.tar.gz")
        CfnOutput(scope, "PromotedModelDataUrl", value=self.model_data_url, description="The copy the model reads")
        CfnOutput(scope, "SourceModelDataUrl", value=self.source_model_data_url, description="Where the copy came from")

    def _acknowledge(self, bucket: s3.IBucket, registry: RegistrySource, model: str) -> None:
        findings = [resource_finding(self, arn) for arn in registry.artifact_objects(model)]
        if registry.key is None:
            findings.append(resource_finding(self, registry.remote_keys()))
        findings.append(resource_finding(self, bucket.arn_for_objects(f"{PROMOTED_PREFIX}{model}/*")))
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "The copier reads the package's tarball and baselines, which the training pipeline writes under "
            "per-execution keys of exactly these steps' outputs; it writes only below promoted/<model>/ of this "
            "environment's bucket. From another account no key ARN crosses, so kms:Decrypt names the registry "
            "account's keys, limited by condition to the registry key's alias used through S3.",
            applies_to=findings,
        )
        acknowledge_pinned_runtime(self.function)


def promotion_role_arn_pattern(stack: Stack, *, account: str, project: str, environment: str) -> str:
    """ARN pattern of ``environment``'s copier roles in ``account`` (for conditions on ``aws:PrincipalArn``)."""
    return stack.format_arn(
        service="iam",
        region="",
        account=account,
        resource="role",
        resource_name=promotion_role_pattern(project, environment),
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )
