"""Secure S3 buckets: KMS-encrypted, TLS-only, private, versioned and access-logged unless told otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.nag import acknowledge


class SecureBucket(s3.Bucket):
    """An ``s3.Bucket`` with secure defaults merged under the caller's overrides.

    Defaults: SSE-KMS with ``encryption_key`` and an S3 bucket key, TLS 1.2+ only, all public access blocked,
    object ownership enforced (no ACLs), versioning on, server access logs to ``server_access_logs_bucket``,
    and old versions expired after ``noncurrent_version_expiration``. ``removal_policy`` is required: whether
    data survives a stack deletion is decided by the environment's config, never by a default here.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        server_access_logs_bucket: s3.IBucket,
        removal_policy: RemovalPolicy,
        noncurrent_version_expiration: Duration,
        lifecycle_rules: Sequence[s3.LifecycleRule] = (),
        **overrides: Any,
    ) -> None:
        rules = [
            s3.LifecycleRule(
                id="expire-noncurrent-versions",
                noncurrent_version_expiration=noncurrent_version_expiration,
                abort_incomplete_multipart_upload_after=Duration.days(7),
            ),
            *lifecycle_rules,
        ]
        props: dict[str, Any] = {
            "encryption": s3.BucketEncryption.KMS,
            "encryption_key": encryption_key,
            "bucket_key_enabled": True,
            "enforce_ssl": True,
            "minimum_tls_version": 1.2,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "versioned": True,
            "server_access_logs_bucket": server_access_logs_bucket,
            "server_access_logs_prefix": f"{construct_id}/",
            "removal_policy": removal_policy,
            "lifecycle_rules": rules,
            **overrides,
        }
        super().__init__(scope, construct_id, **props)


class AccessLogBucket(s3.Bucket):
    """The target of the other buckets' server access logs.

    S3 delivers server access logs only to buckets encrypted with S3-managed keys (SSE-S3), so this one
    bucket is not under the environment's KMS key; it is otherwise as locked down as the rest.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy, expiration: Duration
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=expiration,
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
        )
        acknowledge(
            self,
            "AwsSolutions-S1",
            "This is the server-access-log bucket itself; logging it into itself would loop and S3 advises against it.",
        )

    def allow_delivery_from(self, source_bucket: s3.IBucket, prefix: str) -> None:
        """Let S3 deliver ``source_bucket``'s server access logs under ``prefix``.

        For a bucket whose logging is configured below the L2 (``CfnBucket.logging_configuration``, as for CDK
        Pipelines' artifact bucket), CDK adds no grant. With Object Ownership "bucket owner enforced" ACLs are off,
        so the logging service principal needs this bucket-policy grant, scoped to the source bucket and account
        ("Enabling Amazon S3 server access logging": logging.s3.amazonaws.com, s3:PutObject, aws:SourceArn and
        aws:SourceAccount).
        """
        self.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"S3ServerAccessLogsFrom{prefix.strip('/').title().replace('-', '')}",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": source_bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )
