"""Promotion of one approved model package into an environment's own models bucket.

``promote`` reads the package in the registry account (DescribeModelPackage), copies its model tarball and its
drift-check baselines into the destination keys the CDK construct computed (one naming function,
``mlops_constructs.promotion.promoted_paths``), encrypted with the environment's key, and returns where the copy
lives. Rules it keeps:

- **Verified.** The tarball's bytes must hash (SHA-256) to the package's ``ModelArtifactSha256`` customer metadata;
  on a mismatch nothing is written (a multipart upload is aborted, a single PUT is never sent).
- **Immutable.** Every write carries ``If-None-Match: *`` (S3 user guide, "How to prevent object overwrites with
  conditional writes"): an object that already exists is never replaced. A second promotion of the same version
  finds the copy, checks that its bytes hash to the expected digest and succeeds without writing.
- **Retry-safe.** A failed attempt leaves no object (a multipart upload is completed only after the whole object
  was hashed and checked, and is aborted otherwise), so a retry starts clean or finds finished copies to verify.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ARTIFACT_HASH_METADATA = "ModelArtifactSha256"
"""CustomerMetadataProperties key of the model package: lowercase hex SHA-256 of the model.tar.gz bytes."""
TRAINING_BASELINE_METADATA = "TrainingBaselineS3Uri"
"""CustomerMetadataProperties key naming the training baseline CSV the open drift backend compares against."""
DIGEST_METADATA = "sha256"
"""User metadata (``x-amz-meta-sha256``) on every copy: the SHA-256 of its bytes."""
DEFAULT_PART_SIZE = 64 * 1024 * 1024

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")
_PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):model-package/(?P<group>[a-zA-Z0-9-]+)/"
    r"(?P<version>\d+)$"
)


class PromotionError(RuntimeError):
    """The package cannot be promoted; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class BaselineSpec:
    """One baseline to copy: where the package records it and where its copy goes.

    ``section``/``field`` locate it in DescribeModelPackage's ``DriftCheckBaselines`` (``section`` is
    ``CustomerMetadata`` for the training baseline, whose URI is the customer metadata value ``field``).
    """

    name: str
    section: str
    field: str
    key: str


@dataclass(frozen=True)
class PromotionRequest:
    """The custom resource's properties, checked (``from_properties``)."""

    package_arn: str
    bucket: str
    kms_key_arn: str
    artifact_key: str
    baselines: tuple[BaselineSpec, ...] = ()
    required_baselines: frozenset[str] = frozenset()
    image_prefixes: tuple[str, ...] = ()
    images: tuple[str, ...] = ()

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> PromotionRequest:
        """Parse ``ResourceProperties``; ``PromotionError`` naming the property for anything malformed."""

        def text(name: str) -> str:
            value = properties.get(name)
            if not isinstance(value, str) or not value:
                raise PromotionError(f"property {name}: expected a non-empty string, got {value!r}")
            return value

        arn = text("PackageArn")
        if not _PACKAGE_ARN.match(arn):
            raise PromotionError(f"property PackageArn: {arn!r} is not a versioned model package ARN")
        raw_baselines = properties.get("Baselines", [])
        if not isinstance(raw_baselines, list):
            raise PromotionError(f"property Baselines: expected a list, got {raw_baselines!r}")
        baselines = []
        for index, item in enumerate(raw_baselines):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) and item.get(k) for k in ("Name", "Section", "Field", "Key")
            ):
                raise PromotionError(
                    f"property Baselines[{index}]: expected Name, Section, Field and Key, got {item!r}"
                )
            baselines.append(BaselineSpec(item["Name"], item["Section"], item["Field"], item["Key"]))
        names = {spec.name for spec in baselines}
        required = properties.get("RequiredBaselines", [])
        if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
            raise PromotionError(f"property RequiredBaselines: expected a list of names, got {required!r}")
        unknown = sorted(set(required) - names)
        if unknown:
            raise PromotionError(f"property RequiredBaselines: {unknown} are not in Baselines")
        prefixes = properties.get("ImagePrefixes", [])
        if not isinstance(prefixes, list) or not all(isinstance(p, str) and p for p in prefixes):
            raise PromotionError(f"property ImagePrefixes: expected a list of strings, got {prefixes!r}")
        images = properties.get("Images", [])
        if not isinstance(images, list) or not all(isinstance(i, str) and i for i in images):
            raise PromotionError(f"property Images: expected a list of strings, got {images!r}")
        return cls(
            package_arn=arn,
            bucket=text("Bucket"),
            kms_key_arn=text("KmsKeyArn"),
            artifact_key=text("ArtifactKey"),
            baselines=tuple(baselines),
            required_baselines=frozenset(required),
            image_prefixes=tuple(prefixes),
            images=tuple(images),
        )

    @property
    def registry_region(self) -> str:
        """The region of the registry (and of its artifact bucket)."""
        match = _PACKAGE_ARN.match(self.package_arn)
        assert match is not None
        return match["region"]


@dataclass(frozen=True)
class PromotionResult:
    """Where the promoted copy lives (returned to CloudFormation as the resource's attributes)."""

    package_arn: str
    model_data_url: str
    image: str
    artifact_sha256: str
    source_model_data_url: str
    baselines: Mapping[str, str] = field(default_factory=dict)

    def attributes(self) -> dict[str, str]:
        """``Fn::GetAtt`` names and values (strings only; the response body stays far below 4096 bytes)."""
        return {
            "PackageArn": self.package_arn,
            "ModelDataUrl": self.model_data_url,
            "Image": self.image,
            "ArtifactSha256": self.artifact_sha256,
            "SourceModelDataUrl": self.source_model_data_url,
        }


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://bucket/key`` URI; ``PromotionError`` otherwise."""
    match = _S3_URI.match(uri)
    if not match:
        raise PromotionError(f"{uri!r} is not an S3 object URI (s3://bucket/key)")
    return match["bucket"], match["key"]


def _check_image(request: PromotionRequest, image: str) -> None:
    # The model's role may pull one repository only: a package whose image is elsewhere would fail at endpoint
    # creation (or, for a moved digest, serve other bytes than configured); refuse it here, naming what is allowed.
    if not request.image_prefixes and not request.images:
        return
    if image in request.images or any(image.startswith(prefix) for prefix in request.image_prefixes):
        return
    allowed = [
        *(f"exactly {name}" for name in request.images),
        *(f"an image starting with {p}" for p in request.image_prefixes),
    ]
    raise PromotionError(
        f"{request.package_arn}: image {image!r} is not one this environment may pull; allowed: {' or '.join(allowed)}"
    )


def promote(
    request: PromotionRequest, *, sagemaker: Any, source_s3: Any, dest_s3: Any, part_size: int = DEFAULT_PART_SIZE
) -> PromotionResult:
    """Copy ``request``'s package artifact and baselines into the destination bucket (see the module docstring)."""
    package = _describe(sagemaker, request.package_arn)
    container = _single_container(package, request)
    model_data_url = container.get("ModelDataUrl")
    if not isinstance(model_data_url, str):
        raise PromotionError(f"{request.package_arn}: its container has no ModelDataUrl (a model.tar.gz in S3)")
    image = container.get("Image", "")
    _check_image(request, image)
    metadata = package.get("CustomerMetadataProperties") or {}
    expected = metadata.get(ARTIFACT_HASH_METADATA)
    if not isinstance(expected, str) or not _SHA256.match(expected):
        raise PromotionError(
            f"{request.package_arn}: CustomerMetadataProperties.{ARTIFACT_HASH_METADATA} is {expected!r}; expected "
            "the lowercase hex SHA-256 of model.tar.gz, recorded by the training pipeline at registration"
        )
    baseline_sources = _baseline_sources(package, request)

    source_bucket, source_key = split_s3_uri(model_data_url)
    digest = copy_verified(
        source_s3,
        dest_s3,
        source=(source_bucket, source_key),
        dest=(request.bucket, request.artifact_key),
        kms_key_arn=request.kms_key_arn,
        expected_sha256=expected,
        part_size=part_size,
        what=f"the model artifact of {request.package_arn}",
    )
    copied: dict[str, str] = {}
    for spec in request.baselines:
        uri = baseline_sources.get(spec.name)
        if uri is None:
            continue
        copy_verified(
            source_s3,
            dest_s3,
            source=split_s3_uri(uri),
            dest=(request.bucket, spec.key),
            kms_key_arn=request.kms_key_arn,
            expected_sha256=None,
            part_size=part_size,
            what=f"baseline {spec.name} of {request.package_arn}",
        )
        copied[spec.name] = f"s3://{request.bucket}/{spec.key}"
    return PromotionResult(
        package_arn=request.package_arn,
        model_data_url=f"s3://{request.bucket}/{request.artifact_key}",
        image=image,
        artifact_sha256=digest,
        source_model_data_url=model_data_url,
        baselines=copied,
    )


def _describe(sagemaker: Any, arn: str) -> dict[str, Any]:
    try:
        return dict(sagemaker.describe_model_package(ModelPackageName=arn))
    except sagemaker.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise PromotionError(
            f"{arn}: DescribeModelPackage failed ({code}): the package must exist and the registry's package group "
            "policy must let this environment's promotion role describe it"
        ) from error


def _single_container(package: Mapping[str, Any], request: PromotionRequest) -> Mapping[str, Any]:
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    if len(containers) != 1:
        raise PromotionError(
            f"{request.package_arn}: expected exactly one inference container, found {len(containers)}"
        )
    return dict(containers[0])


def _baseline_sources(package: Mapping[str, Any], request: PromotionRequest) -> dict[str, str]:
    """The recorded URI of every baseline the request names; ``PromotionError`` if a required one is absent."""
    drift = package.get("DriftCheckBaselines") or {}
    metadata = package.get("CustomerMetadataProperties") or {}
    found: dict[str, str] = {}
    for spec in request.baselines:
        if spec.section == "CustomerMetadata":
            uri = metadata.get(spec.field)
        else:
            uri = drift.get(spec.section, {}).get(spec.field, {}).get("S3Uri")
        if isinstance(uri, str) and uri:
            found[spec.name] = uri
    missing = sorted(request.required_baselines - set(found))
    if missing:
        where = ", ".join(f"{spec.name} ({_recorded_at(spec)})" for spec in request.baselines if spec.name in missing)
        raise PromotionError(
            f"{request.package_arn}: the environment's monitoring needs baselines the package does not record: "
            f"{where}; register them with the package or turn the monitor that needs them off"
        )
    return found


def _recorded_at(spec: BaselineSpec) -> str:
    if spec.section == "CustomerMetadata":
        return f"CustomerMetadataProperties.{spec.field}"
    return f"DriftCheckBaselines.{spec.section}.{spec.field}"


def copy_verified(
    source_s3: Any,
    dest_s3: Any,
    *,
    source: tuple[str, str],
    dest: tuple[str, str],
    kms_key_arn: str,
    expected_sha256: str | None,
    part_size: int,
    what: str,
) -> str:
    """Copy one object, hashing it on the way; returns its SHA-256.

    With ``expected_sha256`` the bytes must hash to it. The destination is never overwritten: an existing copy
    must hash to the expected digest (or, without one, to the source's), else ``PromotionError``.
    """
    dest_bucket, dest_key = dest
    if _exists(dest_s3, dest_bucket, dest_key):
        return _verify_existing(source_s3, dest_s3, source=source, dest=dest, expected=expected_sha256, what=what)
    chunks = _read_chunks(source_s3, source, part_size, what)
    first = next(chunks, b"")
    second = next(chunks, None)
    extra = {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": kms_key_arn,
        "BucketKeyEnabled": True,
    }
    if second is None:
        digest = hashlib.sha256(first).hexdigest()
        _check(digest, expected_sha256, source, what)
        try:
            dest_s3.put_object(
                Bucket=dest_bucket,
                Key=dest_key,
                Body=first,
                IfNoneMatch="*",
                Metadata={DIGEST_METADATA: digest},
                **extra,
            )
        except dest_s3.exceptions.ClientError as error:
            if not _precondition_failed(error):
                raise
            # Another attempt wrote the copy meanwhile: it must be the same bytes.
            return _verify_existing(source_s3, dest_s3, source=source, dest=dest, expected=digest, what=what)
        return digest
    if expected_sha256 is None:
        # Nothing recorded (a large baseline): hash the source in a first pass, then copy it in a second pass that
        # must reproduce the digest, so a source changing in between is refused like a mismatch.
        hasher = hashlib.sha256()
        for chunk in _chain(first, second, chunks):
            hasher.update(chunk)
        expected_sha256 = hasher.hexdigest()
        chunks = _read_chunks(source_s3, source, part_size, what)
        first, second = next(chunks, b""), next(chunks, b"")
    return _multipart_copy(
        dest_s3,
        dest=dest,
        chunks=_chain(first, second, chunks),
        expected=expected_sha256,
        extra=extra,
        source=source,
        what=what,
    )


def _multipart_copy(
    dest_s3: Any,
    *,
    dest: tuple[str, str],
    chunks: Iterator[bytes],
    expected: str,
    extra: Mapping[str, Any],
    source: tuple[str, str],
    what: str,
) -> str:
    """Upload in parts; complete (``If-None-Match: *``) only once the whole object hashed to ``expected``."""
    bucket, key = dest
    upload_id = dest_s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata={DIGEST_METADATA: expected}, **extra)[
        "UploadId"
    ]
    completed = False
    try:
        hasher = hashlib.sha256()
        parts = []
        for number, chunk in enumerate(chunks, start=1):
            hasher.update(chunk)
            response = dest_s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk)
            parts.append({"PartNumber": number, "ETag": response["ETag"]})
        digest = hasher.hexdigest()
        _check(digest, expected, source, what)
        try:
            dest_s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
            )
            completed = True
        except dest_s3.exceptions.ClientError as error:
            if not _precondition_failed(error):
                raise
            return _verify_digest_of(dest_s3, dest, expected, what)
        return digest
    finally:
        if not completed:
            # Parts of an incomplete upload are never visible as an object; aborting frees them at once.
            dest_s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def _chain(first: bytes, second: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield second
    yield from rest


def _read_chunks(s3: Any, location: tuple[str, str], size: int, what: str) -> Iterator[bytes]:
    bucket, key = location
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except s3.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise PromotionError(
            f"{what}: cannot read s3://{bucket}/{key} ({code}); it must exist in the registry's artifact bucket and "
            "the bucket and key policies must let this promotion role read it"
        ) from error
    return _chunks(body, size)


def _chunks(body: Any, size: int) -> Iterator[bytes]:
    while True:
        buffer = bytearray()
        while len(buffer) < size:
            data = body.read(size - len(buffer))
            if not data:
                break
            buffer.extend(data)
        if not buffer:
            return
        yield bytes(buffer)
        if len(buffer) < size:
            return


def _check(digest: str, expected: str | None, source: tuple[str, str], what: str) -> None:
    if expected is not None and digest != expected:
        raise PromotionError(
            f"{what}: s3://{source[0]}/{source[1]} has SHA-256 {digest}, but the package records {expected}; the "
            "artifact changed after registration: refused, nothing was written"
        )


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _precondition_failed(error: Any) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    # 409 ConditionalRequestConflict: a concurrent conditional write to the same key is in flight.
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (412, 409)


def _verify_existing(
    source_s3: Any, dest_s3: Any, *, source: tuple[str, str], dest: tuple[str, str], expected: str | None, what: str
) -> str:
    if expected is None:
        hasher = hashlib.sha256()
        for chunk in _read_chunks(source_s3, source, DEFAULT_PART_SIZE, what):
            hasher.update(chunk)
        expected = hasher.hexdigest()
    return _verify_digest_of(dest_s3, dest, expected, what)


def _verify_digest_of(s3: Any, location: tuple[str, str], expected: str, what: str) -> str:
    """The existing copy at ``location`` must hash to ``expected`` (its bytes, not only its metadata)."""
    bucket, key = location
    hasher = hashlib.sha256()
    for chunk in _read_chunks(s3, location, DEFAULT_PART_SIZE, what):
        hasher.update(chunk)
    digest = hasher.hexdigest()
    if digest != expected:
        raise PromotionError(
            f"{what}: s3://{bucket}/{key} already exists with SHA-256 {digest}, not {expected}; promoted copies are "
            "immutable and never overwritten: investigate how it changed, then delete it deliberately to re-promote"
        )
    return digest
