"""The image a served model runs, as the roles that pull it and the promotion copier that accepts it see it.

A model's ``images.serving`` (``mlops_config.model_kind.ImageSettings``) is either an AWS framework image, whose
repository and account the SDK's image registry gives per Region, or the team's own ECR image, one repository in
one account. Either way a role may pull exactly that one repository, and promotion accepts a registered package
only if its image comes from it (and, for a digest-pinned user image, is exactly that digest).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack

from mlops_config.model_kind import ImageRepository, ImageSettings


@dataclass(frozen=True)
class ServingImage:
    """``image`` resolved for inference in one Region: its repository, and the configured URI of a user image."""

    repository: ImageRepository
    uri: str | None = None

    @classmethod
    def resolve(cls, image: ImageSettings, region: str) -> ServingImage:
        """The repository ``image`` is pulled from by a model in ``region`` (``ValueError`` when it has none)."""
        return cls(repository=image.repository("inference", region), uri=image.uri)

    @property
    def digest_pinned(self) -> bool:
        """Whether this is a user image pinned by digest (the only image whose bytes can't change)."""
        return self.uri is not None and "@sha256:" in self.uri

    def repository_arn(self, stack: Stack) -> str:
        """The ECR repository ARN the model's role may pull from (ECR actions take the repository as resource)."""
        return stack.format_arn(
            service="ecr",
            account=self.repository.account,
            region=self.repository.region,
            resource="repository",
            resource_name=self.repository.repository,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    def accepted_images(self, stack: Stack) -> dict[str, list[str]]:
        """The promotion custom resource's image properties: ``ImagePrefixes`` or exact ``Images``.

        A framework image: any tag of that repository in that account (the SDK composes the tag when the pipeline
        registers the package). A user image pinned by tag: that repository, by any tag or digest. A user image
        pinned by digest: exactly that URI.
        """
        if self.uri is None:
            repo = self.repository
            registry = f"{repo.account}.dkr.ecr.{repo.region}.{stack.url_suffix}"
            return {"ImagePrefixes": [f"{registry}/{repo.repository}:"]}
        if self.digest_pinned:
            return {"Images": [self.uri]}
        name = self.uri.rsplit(":", 1)[0]
        return {"ImagePrefixes": [f"{name}:", f"{name}@"]}
