"""The promotion copier (lambda/promote_model) across two accounts, against moto.

The registry (dev) account holds the package group, the package and its artifacts; the serving (prod) account
runs the copier and owns the destination bucket. moto gives each account its own backends: the registry side is
reached with credentials of a role assumed in the registry account, the serving side with moto's default account.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_constructs.promotion import baseline_specs, promoted_paths

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMOTE_DIR = REPO_ROOT / "lambda" / "promote_model"
if str(PROMOTE_DIR) not in sys.path:
    sys.path.insert(0, str(PROMOTE_DIR))

import promote  # noqa: E402

REGION = "eu-west-1"
REGISTRY_ACCOUNT = "111111111111"
SERVING_ACCOUNT = "123456789012"  # moto's default account
SOURCE_BUCKET = f"mlops-dev-models-{REGISTRY_ACCOUNT}-{REGION}"
DEST_BUCKET = f"mlops-prod-models-{SERVING_ACCOUNT}-{REGION}"
GROUP = "mlops-breast-cancer"
IMAGE = f"141502667606.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1"
MODEL_KEY = "breast-cancer/exec-1/Train/pipelines-abc/output/model.tar.gz"
STATS_KEY = "breast-cancer/exec-1/DataQualityBaseline/statistics.json"
CONSTRAINTS_KEY = "breast-cancer/exec-1/DataQualityBaseline/constraints.json"
DEST_KMS = f"arn:aws:kms:{REGION}:{SERVING_ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
PART = 5 * 1024 * 1024  # S3's (and moto's) smallest multipart part


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


class Accounts:
    """Clients of both accounts inside one moto session, and helpers to register packages."""

    def __init__(self) -> None:
        credentials = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{REGISTRY_ACCOUNT}:role/registry", RoleSessionName="tests"
        )["Credentials"]
        registry = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )
        self.registry_s3 = registry.client("s3")
        self.registry_sagemaker = registry.client("sagemaker")
        self.serving_s3 = boto3.client("s3", region_name=REGION)
        cfg = {"LocationConstraint": REGION}
        self.registry_s3.create_bucket(Bucket=SOURCE_BUCKET, CreateBucketConfiguration=cfg)  # type: ignore[arg-type]
        self.serving_s3.create_bucket(Bucket=DEST_BUCKET, CreateBucketConfiguration=cfg)  # type: ignore[arg-type]
        self.serving_s3.put_bucket_versioning(Bucket=DEST_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.registry_sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)

    def register(
        self, artifact: bytes, *, recorded: str | None = None, baselines: bool = True, image: str = IMAGE
    ) -> str:
        """Upload ``artifact`` (and baselines) to the registry bucket and register a package recording a hash."""
        self.registry_s3.put_object(Bucket=SOURCE_BUCKET, Key=MODEL_KEY, Body=artifact)
        drift: dict[str, Any] = {}
        if baselines:
            self.registry_s3.put_object(Bucket=SOURCE_BUCKET, Key=STATS_KEY, Body=b'{"version": 0.0}')
            self.registry_s3.put_object(Bucket=SOURCE_BUCKET, Key=CONSTRAINTS_KEY, Body=b'{"features": []}')
            drift = {
                "ModelDataQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{SOURCE_BUCKET}/{STATS_KEY}"},
                    "Constraints": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{SOURCE_BUCKET}/{CONSTRAINTS_KEY}",
                    },
                }
            }
        response = self.registry_sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification={
                "Containers": [{"Image": image, "ModelDataUrl": f"s3://{SOURCE_BUCKET}/{MODEL_KEY}"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            CustomerMetadataProperties={
                "ModelArtifactSha256": recorded or hashlib.sha256(artifact).hexdigest(),
                "TriggerReason": "manual",
            },
            DriftCheckBaselines=drift,
            ModelApprovalStatus="Approved",
        )
        arn: str = response["ModelPackageArn"]
        assert f":{REGISTRY_ACCOUNT}:" in arn, "the package must live in the registry account"
        return arn

    def request(self, package_arn: str, *, required: tuple[str, ...] = ()) -> promote.PromotionRequest:
        paths = promoted_paths("breast-cancer", int(package_arn.rsplit("/", 1)[1]))
        return promote.PromotionRequest.from_properties(
            {
                "PackageArn": package_arn,
                "Bucket": DEST_BUCKET,
                "KmsKeyArn": DEST_KMS,
                "ArtifactKey": paths.artifact_key,
                "Baselines": baseline_specs(paths),
                "RequiredBaselines": list(required),
                "ImagePrefixes": [f"141502667606.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:"],
            }
        )

    def promote(self, request: promote.PromotionRequest, **kwargs: Any) -> promote.PromotionResult:
        return promote.promote(
            request,
            sagemaker=self.registry_sagemaker,
            source_s3=self.serving_s3,
            dest_s3=kwargs.pop("dest_s3", self.serving_s3),
            part_size=PART,
            **kwargs,
        )

    def versions(self, key: str) -> list[dict[str, Any]]:
        listed = self.serving_s3.list_object_versions(Bucket=DEST_BUCKET, Prefix=key)
        return [v for v in listed.get("Versions", []) if v["Key"] == key]

    def dest_keys(self) -> list[str]:
        return sorted(o["Key"] for o in self.serving_s3.list_objects_v2(Bucket=DEST_BUCKET).get("Contents", []))

    def read(self, key: str) -> bytes:
        body: bytes = self.serving_s3.get_object(Bucket=DEST_BUCKET, Key=key)["Body"].read()
        return body


@pytest.fixture
def accounts() -> Iterator[Accounts]:
    with mock_aws():
        yield Accounts()


def test_good_copy_lands_in_the_serving_account_encrypted_with_its_key_and_hash_recorded(accounts: Accounts) -> None:
    artifact = b"model-bytes" * 1000
    arn = accounts.register(artifact)
    result = accounts.promote(accounts.request(arn, required=("data_statistics", "data_constraints")))

    paths = promoted_paths("breast-cancer", 1)
    assert result.model_data_url == f"s3://{DEST_BUCKET}/{paths.artifact_key}"
    assert result.image == IMAGE
    assert result.artifact_sha256 == hashlib.sha256(artifact).hexdigest()
    assert result.source_model_data_url == f"s3://{SOURCE_BUCKET}/{MODEL_KEY}"
    assert accounts.read(paths.artifact_key) == artifact
    head = accounts.serving_s3.head_object(Bucket=DEST_BUCKET, Key=paths.artifact_key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == DEST_KMS
    assert head["Metadata"] == {"sha256": result.artifact_sha256}
    assert accounts.read(paths.baseline_key("data_statistics")) == b'{"version": 0.0}'
    assert accounts.read(paths.baseline_key("data_constraints")) == b'{"features": []}'
    assert result.baselines == {
        "data_statistics": f"s3://{DEST_BUCKET}/{paths.baseline_key('data_statistics')}",
        "data_constraints": f"s3://{DEST_BUCKET}/{paths.baseline_key('data_constraints')}",
    }
    # Nothing else was copied (baselines the package does not record are not invented).
    assert accounts.dest_keys() == sorted(
        [paths.artifact_key, paths.baseline_key("data_statistics"), paths.baseline_key("data_constraints")]
    )


def test_large_artifact_is_copied_in_parts_and_verified(accounts: Accounts) -> None:
    artifact = bytes(range(256)) * (11 * 1024 * 1024 // 256)  # 11 MiB: three parts of 5 MiB
    arn = accounts.register(artifact)
    result = accounts.promote(accounts.request(arn))
    assert accounts.read(promoted_paths("breast-cancer", 1).artifact_key) == artifact
    assert result.artifact_sha256 == hashlib.sha256(artifact).hexdigest()
    assert accounts.serving_s3.list_multipart_uploads(Bucket=DEST_BUCKET).get("Uploads", []) == []


def test_a_large_baseline_without_a_recorded_hash_is_copied_in_parts_and_verified(accounts: Accounts) -> None:
    arn = accounts.register(b"model")
    large = b"feature_a,feature_b\n" + b"1.0,2.0\n" * (11 * 1024 * 1024 // 8)
    accounts.registry_s3.put_object(Bucket=SOURCE_BUCKET, Key=STATS_KEY, Body=large)
    accounts.promote(accounts.request(arn, required=("data_statistics",)))
    key = promoted_paths("breast-cancer", 1).baseline_key("data_statistics")
    assert accounts.read(key) == large
    head = accounts.serving_s3.head_object(Bucket=DEST_BUCKET, Key=key)
    assert head["Metadata"] == {"sha256": hashlib.sha256(large).hexdigest()}


@pytest.mark.parametrize("size", [1000, 11 * 1024 * 1024], ids=["single-put", "multipart"])
def test_hash_mismatch_is_refused_and_nothing_is_written(accounts: Accounts, size: int) -> None:
    arn = accounts.register(b"x" * size, recorded=hashlib.sha256(b"what was registered").hexdigest())
    with pytest.raises(promote.PromotionError, match=r"has SHA-256 [0-9a-f]{64}, but the package records .*refused"):
        accounts.promote(accounts.request(arn))
    assert accounts.dest_keys() == []
    assert accounts.serving_s3.list_multipart_uploads(Bucket=DEST_BUCKET).get("Uploads", []) == []


def test_missing_artifact_fails_clearly(accounts: Accounts) -> None:
    arn = accounts.register(b"model")
    accounts.registry_s3.delete_object(Bucket=SOURCE_BUCKET, Key=MODEL_KEY)
    with pytest.raises(promote.PromotionError, match=rf"cannot read s3://{SOURCE_BUCKET}/{MODEL_KEY} \(NoSuchKey\)"):
        accounts.promote(accounts.request(arn))
    assert accounts.dest_keys() == []


def test_missing_package_fails_clearly(accounts: Accounts) -> None:
    arn = f"arn:aws:sagemaker:{REGION}:{REGISTRY_ACCOUNT}:model-package/{GROUP}/7"
    with pytest.raises(promote.PromotionError, match="DescribeModelPackage failed"):
        accounts.promote(accounts.request(arn))


def test_package_without_recorded_hash_is_refused(accounts: Accounts) -> None:
    arn = accounts.register(b"model", recorded="NOT-A-HASH")
    with pytest.raises(promote.PromotionError, match=r"CustomerMetadataProperties\.ModelArtifactSha256"):
        accounts.promote(accounts.request(arn))
    assert accounts.dest_keys() == []


def test_image_outside_the_pullable_repository_is_refused(accounts: Accounts) -> None:
    arn = accounts.register(b"model")
    request = accounts.request(arn)
    narrowed = promote.PromotionRequest(**{**request.__dict__, "image_prefixes": ("999999999999.dkr.ecr.x/other:",)})
    with pytest.raises(promote.PromotionError, match="is not one this environment may pull"):
        accounts.promote(narrowed)
    assert accounts.dest_keys() == []


USER_REPOSITORY = f"555555555555.dkr.ecr.{REGION}.amazonaws.com/team/churn-model"
DIGEST = "sha256:" + "a" * 64


def test_digest_pinned_user_image_promotes_exactly_that_digest(accounts: Accounts) -> None:
    pinned = f"{USER_REPOSITORY}@{DIGEST}"
    request = promote.PromotionRequest.from_properties(
        {**_properties(accounts.request(accounts.register(b"model", image=pinned))), "Images": [pinned]}
    )
    assert request.images == (pinned,) and request.image_prefixes == ()
    assert accounts.promote(request).image == pinned


@pytest.mark.parametrize(
    "registered",
    [
        f"{USER_REPOSITORY}@sha256:{'b' * 64}",  # the same repository, other bytes
        f"{USER_REPOSITORY}:latest",  # the repository by a movable tag
        f"{USER_REPOSITORY}@{DIGEST}0",  # the digest with something after it
        f"555555555555.dkr.ecr.{REGION}.amazonaws.com/team/other@{DIGEST}",
    ],
)
def test_digest_pinned_user_image_refuses_any_other_image(accounts: Accounts, registered: str) -> None:
    request = promote.PromotionRequest.from_properties(
        {
            **_properties(accounts.request(accounts.register(b"model", image=registered))),
            "Images": [f"{USER_REPOSITORY}@{DIGEST}"],
        }
    )
    with pytest.raises(promote.PromotionError, match=rf"allowed: exactly {re.escape(USER_REPOSITORY)}@{DIGEST}$"):
        accounts.promote(request)
    assert accounts.dest_keys() == []


@pytest.mark.parametrize(
    ("registered", "accepted"),
    [
        (f"{USER_REPOSITORY}:v2", True),
        (f"{USER_REPOSITORY}@{DIGEST}", True),
        (f"{USER_REPOSITORY}-shadow:v2", False),  # a repository whose name starts like it
        (f"{USER_REPOSITORY}/nested:v2", False),
        (f"666666666666.dkr.ecr.{REGION}.amazonaws.com/team/churn-model:v2", False),
    ],
)
def test_tag_pinned_user_image_accepts_exactly_its_repository(
    accounts: Accounts, registered: str, accepted: bool
) -> None:
    request = promote.PromotionRequest.from_properties(
        {
            **_properties(accounts.request(accounts.register(b"model", image=registered))),
            "ImagePrefixes": [f"{USER_REPOSITORY}:", f"{USER_REPOSITORY}@"],
        }
    )
    if accepted:
        assert accounts.promote(request).image == registered
    else:
        with pytest.raises(promote.PromotionError, match="is not one this environment may pull"):
            accounts.promote(request)


def test_images_property_must_be_a_list_of_strings() -> None:
    with pytest.raises(promote.PromotionError, match=r"property Images: expected a list of strings, got \['', 3\]"):
        promote.PromotionRequest.from_properties(
            {
                "PackageArn": f"arn:aws:sagemaker:{REGION}:{REGISTRY_ACCOUNT}:model-package/g/1",
                "Bucket": "b",
                "KmsKeyArn": "k",
                "ArtifactKey": "a",
                "Images": ["", 3],
            }
        )


def _properties(request: promote.PromotionRequest) -> dict[str, Any]:
    # The request back as the custom resource's properties, without its image rule (each test sets its own).
    return {
        "PackageArn": request.package_arn,
        "Bucket": request.bucket,
        "KmsKeyArn": request.kms_key_arn,
        "ArtifactKey": request.artifact_key,
    }


def test_required_baseline_the_package_lacks_fails_before_anything_is_written(accounts: Accounts) -> None:
    arn = accounts.register(b"model", baselines=False)
    with pytest.raises(promote.PromotionError, match=r"data_statistics \(DriftCheckBaselines.ModelDataQuality"):
        accounts.promote(accounts.request(arn, required=("data_statistics",)))
    assert accounts.dest_keys() == []


def test_second_promotion_of_the_same_version_does_not_overwrite(accounts: Accounts) -> None:
    arn = accounts.register(b"model-v1")
    request = accounts.request(arn, required=("data_statistics",))
    first = accounts.promote(request)
    key = promoted_paths("breast-cancer", 1).artifact_key
    before = accounts.versions(key)

    second = promote.promote(
        request,
        sagemaker=accounts.registry_sagemaker,
        source_s3=accounts.serving_s3,
        dest_s3=_ReadOnly(accounts.serving_s3),
        part_size=PART,
    )
    assert second == first
    assert accounts.versions(key) == before and len(before) == 1


def test_an_existing_copy_with_other_bytes_is_never_replaced(accounts: Accounts) -> None:
    arn = accounts.register(b"model-v1")
    key = promoted_paths("breast-cancer", 1).artifact_key
    accounts.serving_s3.put_object(Bucket=DEST_BUCKET, Key=key, Body=b"tampered")
    with pytest.raises(promote.PromotionError, match=r"already exists with SHA-256 .* immutable"):
        accounts.promote(accounts.request(arn))
    assert accounts.read(key) == b"tampered"
    assert len(accounts.versions(key)) == 1


def test_retry_after_a_failed_part_upload_leaves_no_duplicate_and_no_corrupt_object(accounts: Accounts) -> None:
    artifact = b"\x01" * (11 * 1024 * 1024)
    arn = accounts.register(artifact)
    request = accounts.request(arn)
    key = promoted_paths("breast-cancer", 1).artifact_key

    flaky = _FailOnSecondPart(accounts.serving_s3)
    with pytest.raises(ConnectionError):
        accounts.promote(request, dest_s3=flaky)
    assert accounts.dest_keys() == []
    assert accounts.serving_s3.list_multipart_uploads(Bucket=DEST_BUCKET).get("Uploads", []) == []

    accounts.promote(request)
    assert accounts.read(key) == artifact
    assert len(accounts.versions(key)) == 1


def test_retry_after_a_failed_baseline_copy_keeps_the_single_artifact_copy(accounts: Accounts) -> None:
    arn = accounts.register(b"model-v1")
    request = accounts.request(arn, required=("data_statistics", "data_constraints"))
    paths = promoted_paths("breast-cancer", 1)
    accounts.registry_s3.delete_object(Bucket=SOURCE_BUCKET, Key=CONSTRAINTS_KEY)
    with pytest.raises(promote.PromotionError, match="cannot read"):
        accounts.promote(request)
    assert paths.artifact_key in accounts.dest_keys()

    accounts.registry_s3.put_object(Bucket=SOURCE_BUCKET, Key=CONSTRAINTS_KEY, Body=b'{"features": []}')
    accounts.promote(request)
    for key in (paths.artifact_key, paths.baseline_key("data_statistics"), paths.baseline_key("data_constraints")):
        assert len(accounts.versions(key)) == 1, key


def test_every_write_carries_if_none_match(accounts: Accounts) -> None:
    """The header itself, on PutObject and CompleteMultipartUpload (S3 enforces what moto may only emulate)."""
    seen: list[tuple[str, str | None]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        header = request.headers.get("If-None-Match")
        seen.append((event_name.rsplit(".", 1)[-1], header.decode() if isinstance(header, bytes) else header))

    for operation in ("PutObject", "CompleteMultipartUpload"):
        accounts.serving_s3.meta.events.register(f"before-send.s3.{operation}", record)
    arn = accounts.register(b"\x02" * (11 * 1024 * 1024))
    accounts.promote(accounts.request(arn, required=("data_statistics",)))
    assert seen and all(header == "*" for _, header in seen), seen
    assert {name for name, _ in seen} == {"PutObject", "CompleteMultipartUpload"}


def test_request_properties_are_checked() -> None:
    with pytest.raises(promote.PromotionError, match="property PackageArn"):
        promote.PromotionRequest.from_properties({"PackageArn": "arn:aws:sagemaker:x", "Bucket": "b"})
    with pytest.raises(promote.PromotionError, match=r"RequiredBaselines: \['bias_config'\] are not in Baselines"):
        promote.PromotionRequest.from_properties(
            {
                "PackageArn": f"arn:aws:sagemaker:{REGION}:{REGISTRY_ACCOUNT}:model-package/{GROUP}/1",
                "Bucket": DEST_BUCKET,
                "KmsKeyArn": DEST_KMS,
                "ArtifactKey": "promoted/x/v1/model.tar.gz",
                "RequiredBaselines": ["bias_config"],
            }
        )


# --- the handler: CloudFormation's requests and answers ---


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("promote_model_handler", PROMOTE_DIR / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cfn_event(request_type: str, properties: dict[str, Any], physical_id: str | None = None) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ServiceToken": f"arn:aws:lambda:{REGION}:{SERVING_ACCOUNT}:function:promote",
        "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/presigned",
        "StackId": f"arn:aws:cloudformation:{REGION}:{SERVING_ACCOUNT}:stack/mlops-prod-breast-cancer-serving/x",
        "RequestId": "5d9e5b8c-0000-4000-8000-000000000000",
        "ResourceType": "Custom::ModelPromotion",
        "LogicalResourceId": "PromotionCopy",
        "ResourceProperties": {"ServiceToken": "arn", **properties},
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return event


def test_handler_create_answers_success_with_the_copy_as_attributes(accounts: Accounts) -> None:
    handler = load_handler()
    arn = accounts.register(b"model-v1")
    request = accounts.request(arn)
    properties = {
        "PackageArn": arn,
        "Bucket": DEST_BUCKET,
        "KmsKeyArn": DEST_KMS,
        "ArtifactKey": request.artifact_key,
        "Baselines": baseline_specs(promoted_paths("breast-cancer", 1)),
    }
    body = handler.handle(
        cfn_event("Create", properties),
        clients=lambda region: (accounts.registry_sagemaker, accounts.registry_s3, accounts.serving_s3),
    )
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == f"s3://{DEST_BUCKET}/{request.artifact_key}"
    assert body["Data"]["ArtifactSha256"] == hashlib.sha256(b"model-v1").hexdigest()
    assert body["Data"]["Image"] == IMAGE
    assert len(json.dumps(body)) < 4096


def test_handler_failure_answers_failed_with_the_reason(accounts: Accounts) -> None:
    handler = load_handler()
    arn = accounts.register(b"model", recorded="0" * 64)
    properties = {
        "PackageArn": arn,
        "Bucket": DEST_BUCKET,
        "KmsKeyArn": DEST_KMS,
        "ArtifactKey": "promoted/breast-cancer/v1/model.tar.gz",
    }
    body = handler.handle(
        cfn_event("Create", properties),
        clients=lambda region: (accounts.registry_sagemaker, accounts.registry_s3, accounts.serving_s3),
    )
    assert body["Status"] == "FAILED"
    assert "PromotionError" in body["Reason"] and "refused, nothing was written" in body["Reason"]
    assert body["PhysicalResourceId"] == "promotion-PromotionCopy"
    assert accounts.dest_keys() == []


def test_handler_delete_keeps_the_copies(accounts: Accounts) -> None:
    handler = load_handler()
    accounts.serving_s3.put_object(Bucket=DEST_BUCKET, Key="promoted/breast-cancer/v1/model.tar.gz", Body=b"m")

    def no_clients(region: str) -> Any:
        raise AssertionError("Delete must not call AWS")

    physical = f"s3://{DEST_BUCKET}/promoted/breast-cancer/v1/model.tar.gz"
    body = handler.handle(cfn_event("Delete", {}, physical_id=physical), clients=no_clients)
    assert body == {
        "StackId": body["StackId"],
        "RequestId": "5d9e5b8c-0000-4000-8000-000000000000",
        "LogicalResourceId": "PromotionCopy",
        "Status": "SUCCESS",
        "PhysicalResourceId": physical,
    }
    assert accounts.dest_keys() == ["promoted/breast-cancer/v1/model.tar.gz"]


def test_handler_sends_the_answer_to_the_presigned_url(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = load_handler()
    sent: list[Any] = []

    class Reply(io.BytesIO):
        status = 200

    def fake_urlopen(request: Any, timeout: int) -> Reply:
        sent.append(request)
        return Reply()

    monkeypatch.setattr(handler.urllib.request, "urlopen", fake_urlopen)
    handler.send("https://example.com/presigned", {"Status": "SUCCESS"})
    assert sent[0].get_method() == "PUT"
    assert sent[0].headers == {"Content-type": "", "Content-length": "21"}
    assert json.loads(sent[0].data) == {"Status": "SUCCESS"}


class _ReadOnly:
    """An S3 client that reads through ``client`` and fails the test on any write."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        if name in ("put_object", "create_multipart_upload", "upload_part", "complete_multipart_upload"):
            raise AssertionError(f"a second promotion must not write ({name})")
        return getattr(self._client, name)


class _FailOnSecondPart:
    """An S3 client whose second UploadPart breaks the connection (a Lambda killed mid-copy looks alike)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._parts = 0
        self.exceptions = client.exceptions

    def upload_part(self, **kwargs: Any) -> Any:
        self._parts += 1
        if self._parts == 2:
            raise ConnectionError("connection reset during UploadPart")
        return self._client.upload_part(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
