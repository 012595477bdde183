"""The integration tests' own fixtures (not the platform's): model packages registered from a tiny artifact.

A package here is what the training pipeline would register, made without a training run: the tarball (built
at synth from the committed tiny model, ``harness.model_tarball``) is copied into the registry environment's
artifact bucket under the key layout the promotion copier may read (``<model>/<run>/Train/<job>/output/``,
``mlops_constructs.promotion.REGISTRY_ARTIFACT_PATTERNS``), then registered as an approved version of the model's
package group with its SHA-256 (``ModelArtifactSha256``), the built-in XGBoost 1.7-1 image and CSV in/out.
Versions are registered one after another, so in a group the test created they are numbered 1, 2, 3.
"""

from __future__ import annotations

from pathlib import Path

import harness
from aws_cdk import Stack
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_config.model_kind import XGBOOST_IMAGE
from mlops_constructs import naming
from stacks.data_stack import DataStack

XGBOOST_VERSION = "1.7-1"


def fixture_key(model: str, version: int) -> str:
    """Where version ``version``'s tarball goes in the artifact bucket (a Train step's output layout)."""
    return f"{model}/integ-fixture/Train/fixture-v{version}/output/model.tar.gz"


class RegisteredPackages(Construct):
    """Versions 1..``versions`` of ``model``'s package, approved, each from the tiny model's tarball."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        model: str,
        data: DataStack,
        versions: int,
        instance_types: list[str],
        training_baseline: Path | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        tarball, sha256 = harness.model_tarball(harness.REPO / "build" / "integ" / "tarball")
        repository = XGBOOST_IMAGE.repository("inference", stack.region)
        image = (
            f"{repository.account}.dkr.ecr.{stack.region}.{stack.url_suffix}/{repository.repository}:{XGBOOST_VERSION}"
        )
        group = data.package_groups[model]
        metadata = {"ModelArtifactSha256": sha256, "TriggerReason": "integ-fixture"}
        uploads: list[Construct] = []
        if training_baseline is not None:
            # The open drift backend's baseline: the preprocess step's output layout, recorded like the pipeline
            # records it (customer metadata TrainingBaselineS3Uri), promoted with the package.
            prefix = f"{model}/integ-fixture/Preprocess/baseline"
            baseline = s3deploy.BucketDeployment(
                self,
                "TrainingBaseline",
                sources=[s3deploy.Source.asset(str(training_baseline.parent))],
                destination_bucket=data.artifact_bucket,
                destination_key_prefix=prefix,
                server_side_encryption=s3deploy.ServerSideEncryption.AWS_KMS,
                server_side_encryption_aws_kms_key_id=data.key.key_id,
                retain_on_delete=False,
            )
            data.key.grant_encrypt_decrypt(baseline.handler_role)
            metadata["TrainingBaselineS3Uri"] = data.artifact_bucket.s3_url_for_object(
                f"{prefix}/{training_baseline.name}"
            )
            uploads.append(baseline)
        previous: Construct | None = None
        self.packages: list[sagemaker.CfnModelPackage] = []
        for version in range(1, versions + 1):
            key = fixture_key(model, version)
            upload = s3deploy.BucketDeployment(
                self,
                f"Artifact{version}",
                sources=[s3deploy.Source.asset(str(Path(tarball).parent))],
                destination_bucket=data.artifact_bucket,
                destination_key_prefix=key.rsplit("/", 1)[0],
                extract=True,
                server_side_encryption=s3deploy.ServerSideEncryption.AWS_KMS,
                server_side_encryption_aws_kms_key_id=data.key.key_id,
                retain_on_delete=False,
            )
            data.key.grant_encrypt_decrypt(upload.handler_role)
            package = sagemaker.CfnModelPackage(
                self,
                f"Version{version}",
                model_package_group_name=naming.model_package_group_name(project, model),
                model_package_description=f"integ fixture v{version} of {model} (tiny XGBoost model)",
                model_approval_status="Approved",
                customer_metadata_properties=metadata,
                inference_specification=sagemaker.CfnModelPackage.InferenceSpecificationProperty(
                    containers=[
                        sagemaker.CfnModelPackage.ModelPackageContainerDefinitionProperty(
                            image=image, model_data_url=data.artifact_bucket.s3_url_for_object(key)
                        )
                    ],
                    supported_content_types=["text/csv"],
                    supported_response_mime_types=["text/csv"],
                    supported_realtime_inference_instance_types=instance_types,
                    supported_transform_instance_types=instance_types,
                ),
            )
            package.node.add_dependency(upload, *uploads)
            package.node.add_dependency(group)
            if previous is not None:
                # One after another: the group numbers them in creation order.
                package.node.add_dependency(previous)
            previous = package
            self.packages.append(package)
