"""Promotion request and flow, exact: each property's refusal, the image rule's message, and what ``promote`` copies.

Written against the survivors of ``make mutate-lambda FN=promote_model`` for ``PromotionRequest.from_properties``,
``_check_image``, ``_single_container``, ``_describe`` and ``promote`` (README, "Development"). The moto tests matched
one property name per bad request and promoted well-formed packages; they did not pin each message CloudFormation
shows in the stack events, the defaults of the optional properties, a package with no or two containers, nor that a
refused package reads and writes nothing.
"""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

PROMOTE_DIR = Path(__file__).resolve().parents[2] / "lambda" / "promote_model"
if str(PROMOTE_DIR) not in sys.path:
    sys.path.insert(0, str(PROMOTE_DIR))

import promote  # noqa: E402

ARN = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/breast-cancer/3"
KMS = "arn:aws:kms:eu-west-2:222222222222:key/k"
STATISTICS = {"Name": "statistics", "Section": "ModelDataQuality", "Field": "Statistics", "Key": "b/statistics.json"}
CONSTRAINTS = {
    "Name": "constraints",
    "Section": "ModelDataQuality",
    "Field": "Constraints",
    "Key": "b/constraints.json",
}
TRAINING = {"Name": "training", "Section": "CustomerMetadata", "Field": "TrainingBaselineS3Uri", "Key": "b/train.csv"}
IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def properties(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"PackageArn": ARN, "Bucket": "dest", "KmsKeyArn": KMS, "ArtifactKey": "m/model.tar.gz"}
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def refusal(**changes: Any) -> str:
    with pytest.raises(promote.PromotionError) as caught:
        promote.PromotionRequest.from_properties(properties(**changes))
    return str(caught.value)


# --- from_properties ----------------------------------------------------------------------------------------------


def test_the_required_properties_alone_give_empty_baselines_and_image_rules() -> None:
    request = promote.PromotionRequest.from_properties(properties())
    assert request == promote.PromotionRequest(
        package_arn=ARN,
        bucket="dest",
        kms_key_arn=KMS,
        artifact_key="m/model.tar.gz",
        baselines=(),
        required_baselines=frozenset(),
        image_prefixes=(),
        images=(),
    )
    assert request.registry_region == "eu-west-1"


def test_every_property_is_read_into_its_own_field_in_order() -> None:
    request = promote.PromotionRequest.from_properties(
        properties(
            Baselines=[STATISTICS, TRAINING],
            RequiredBaselines=["training", "statistics", "training"],
            ImagePrefixes=["repo-a:", "repo-b@"],
            Images=["repo-c@sha256:" + "a" * 64],
        )
    )
    assert request.baselines == (
        promote.BaselineSpec("statistics", "ModelDataQuality", "Statistics", "b/statistics.json"),
        promote.BaselineSpec("training", "CustomerMetadata", "TrainingBaselineS3Uri", "b/train.csv"),
    )
    assert request.required_baselines == frozenset({"training", "statistics"})
    assert (request.image_prefixes, request.images) == (("repo-a:", "repo-b@"), ("repo-c@sha256:" + "a" * 64,))


@pytest.mark.parametrize("name", ["PackageArn", "Bucket", "KmsKeyArn", "ArtifactKey"])
@pytest.mark.parametrize("value", [None, "", 7], ids=["absent", "empty", "number"])
def test_a_required_property_that_is_absent_empty_or_not_text_is_named_with_its_value(name: str, value: Any) -> None:
    assert refusal(**{name: value}) == f"property {name}: expected a non-empty string, got {value!r}"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package/breast-cancer",  # unversioned
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package-group/breast-cancer",
        "arn:aws:sagemaker:eu-west-1:11111111111:model-package/breast-cancer/3",
        ARN + "/4",
    ],
)
def test_a_package_arn_that_is_not_a_versioned_package_is_refused(arn: str) -> None:
    assert refusal(PackageArn=arn) == f"property PackageArn: {arn!r} is not a versioned model package ARN"


@pytest.mark.parametrize("arn", [ARN, "arn:aws-cn:sagemaker:cn-north-1:111111111111:model-package/a-b-1/12"])
def test_a_versioned_package_arn_in_any_partition_is_accepted_and_names_its_region(arn: str) -> None:
    request = promote.PromotionRequest.from_properties(properties(PackageArn=arn))
    assert request.registry_region == arn.split(":")[3]


def test_baselines_that_are_not_a_list_are_refused() -> None:
    assert refusal(Baselines={"Name": "x"}) == "property Baselines: expected a list, got {'Name': 'x'}"


@pytest.mark.parametrize(
    "item",
    [
        "statistics",
        {**STATISTICS, "Name": ""},
        {**STATISTICS, "Section": ""},
        {**STATISTICS, "Field": 3},
        {key: value for key, value in STATISTICS.items() if key != "Key"},
    ],
    ids=["not-an-object", "empty-name", "empty-section", "number-field", "no-key"],
)
def test_a_malformed_baseline_is_named_by_its_index_and_shown(item: Any) -> None:
    assert refusal(Baselines=[TRAINING, item]) == (
        f"property Baselines[1]: expected Name, Section, Field and Key, got {item!r}"
    )


@pytest.mark.parametrize("required", ["training", ["training", 3]])
def test_required_baselines_must_be_a_list_of_names(required: Any) -> None:
    assert refusal(Baselines=[TRAINING], RequiredBaselines=required) == (
        f"property RequiredBaselines: expected a list of names, got {required!r}"
    )


def test_required_baselines_not_among_the_baselines_are_listed_sorted() -> None:
    assert refusal(Baselines=[TRAINING], RequiredBaselines=["zeta", "training", "alpha"]) == (
        "property RequiredBaselines: ['alpha', 'zeta'] are not in Baselines"
    )


@pytest.mark.parametrize("name", ["ImagePrefixes", "Images"])
@pytest.mark.parametrize("value", ["repo:", ["repo:", ""], ["repo:", 5]], ids=["text", "empty-item", "number-item"])
def test_image_rules_must_be_lists_of_non_empty_strings(name: str, value: Any) -> None:
    assert refusal(**{name: value}) == f"property {name}: expected a list of strings, got {value!r}"


# --- _check_image -------------------------------------------------------------------------------------------------


def request(**changes: Any) -> promote.PromotionRequest:
    values: dict[str, Any] = {
        "package_arn": ARN,
        "bucket": "dest",
        "kms_key_arn": KMS,
        "artifact_key": "m/model.tar.gz",
    }
    values.update(changes)
    return promote.PromotionRequest(**values)


@pytest.mark.parametrize("image", ["", IMAGE, "anything/at:all"])
def test_without_image_rules_any_image_is_accepted(image: str) -> None:
    promote._check_image(request(), image)


def test_an_image_matching_either_rule_is_accepted() -> None:
    rules = request(images=("repo-c@sha256:1",), image_prefixes=("repo-a:", "repo-b:"))
    for image in ("repo-c@sha256:1", "repo-a:v1", "repo-b:v9"):
        promote._check_image(rules, image)


def test_a_refused_image_names_every_allowed_image_and_prefix() -> None:
    rules = request(images=("repo-c@sha256:1", "repo-d@sha256:2"), image_prefixes=("repo-a:", "repo-b:"))
    with pytest.raises(promote.PromotionError) as caught:
        promote._check_image(rules, "repo-c@sha256:10")
    assert str(caught.value) == (
        f"{ARN}: image 'repo-c@sha256:10' is not one this environment may pull; allowed: exactly repo-c@sha256:1 "
        "or exactly repo-d@sha256:2 or an image starting with repo-a: or an image starting with repo-b:"
    )


@pytest.mark.parametrize(
    ("rules", "allowed"),
    [
        ({"images": ("repo-c@sha256:1",)}, "exactly repo-c@sha256:1"),
        ({"image_prefixes": ("repo-a:",)}, "an image starting with repo-a:"),
    ],
)
def test_one_rule_alone_is_enforced_and_named(rules: dict[str, Any], allowed: str) -> None:
    with pytest.raises(promote.PromotionError) as caught:
        promote._check_image(request(**rules), "")
    assert str(caught.value) == f"{ARN}: image '' is not one this environment may pull; allowed: {allowed}"


# --- promote: the flow, against stand-ins that record every call -------------------------------------------------


class FakeSageMaker:
    exceptions = SimpleNamespace(ClientError=ClientError)

    def __init__(self, package: dict[str, Any] | Exception) -> None:
        self.package = package
        self.calls: list[dict[str, Any]] = []

    def describe_model_package(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if isinstance(self.package, Exception):
            raise self.package
        return self.package


class FakeS3:
    """Objects by (bucket, key); records (operation, bucket, key[, the rest]) of every call."""

    exceptions = SimpleNamespace(ClientError=ClientError)

    def __init__(self, objects: dict[tuple[str, str], bytes] | None = None) -> None:
        self.objects = dict(objects or {})
        self.calls: list[tuple[Any, ...]] = []

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("head_object", kwargs["Bucket"], kwargs["Key"]))
        if (kwargs["Bucket"], kwargs["Key"]) not in self.objects:
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        return {}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_object", kwargs["Bucket"], kwargs["Key"]))
        if (kwargs["Bucket"], kwargs["Key"]) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "x"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[(kwargs["Bucket"], kwargs["Key"])])}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("put_object", kwargs["Bucket"], kwargs["Key"], kwargs["SSEKMSKeyId"]))
        self.objects[(kwargs["Bucket"], kwargs["Key"])] = kwargs["Body"]
        return {}

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("create_multipart_upload", kwargs["Bucket"], kwargs["Key"], kwargs["SSEKMSKeyId"]))
        return {"UploadId": "u"}

    def upload_part(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("upload_part", kwargs["Bucket"], kwargs["Key"], kwargs["PartNumber"], kwargs["Body"]))
        return {"ETag": str(kwargs["PartNumber"])}

    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("complete_multipart_upload", kwargs["Bucket"], kwargs["Key"]))
        return {}

    def abort_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("abort_multipart_upload", kwargs["Bucket"], kwargs["Key"]))
        return {}


MODEL = b"model-bytes"


def package(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "ModelPackageArn": ARN,
        "InferenceSpecification": {"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://reg/exec/model.tar.gz"}]},
        "CustomerMetadataProperties": {
            "ModelArtifactSha256": hashlib.sha256(MODEL).hexdigest(),
            "TrainingBaselineS3Uri": "s3://reg/exec/train.csv",
        },
        "DriftCheckBaselines": {"ModelDataQuality": {"Constraints": {"S3Uri": "s3://reg/exec/constraints.json"}}},
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


SOURCES = {
    ("reg", "exec/model.tar.gz"): MODEL,
    ("reg", "exec/train.csv"): b"a,b\n1,2\n",
    ("reg", "exec/constraints.json"): b"{}",
}


def run(
    found: dict[str, Any] | Exception, rules: promote.PromotionRequest | None = None, part_size: int = 64
) -> tuple[promote.PromotionResult, FakeSageMaker, FakeS3, FakeS3]:
    sagemaker, source, dest = FakeSageMaker(found), FakeS3(SOURCES), FakeS3()
    chosen = rules or promote.PromotionRequest.from_properties(
        properties(Baselines=[STATISTICS, CONSTRAINTS, TRAINING], RequiredBaselines=["training"])
    )
    result = promote.promote(chosen, sagemaker=sagemaker, source_s3=source, dest_s3=dest, part_size=part_size)
    return result, sagemaker, source, dest


def test_promote_copies_the_artifact_then_each_recorded_baseline_and_skips_one_not_recorded() -> None:
    result, sagemaker, source, dest = run(package())

    assert sagemaker.calls == [{"ModelPackageName": ARN}]
    assert source.calls == [
        ("get_object", "reg", "exec/model.tar.gz"),
        ("get_object", "reg", "exec/constraints.json"),
        ("get_object", "reg", "exec/train.csv"),
    ]
    assert dest.calls == [
        ("head_object", "dest", "m/model.tar.gz"),
        ("put_object", "dest", "m/model.tar.gz", KMS),
        ("head_object", "dest", "b/constraints.json"),
        ("put_object", "dest", "b/constraints.json", KMS),
        ("head_object", "dest", "b/train.csv"),
        ("put_object", "dest", "b/train.csv", KMS),
    ]
    assert result == promote.PromotionResult(
        package_arn=ARN,
        model_data_url="s3://dest/m/model.tar.gz",
        image=IMAGE,
        artifact_sha256=hashlib.sha256(MODEL).hexdigest(),
        source_model_data_url="s3://reg/exec/model.tar.gz",
        baselines={"constraints": "s3://dest/b/constraints.json", "training": "s3://dest/b/train.csv"},
    )
    assert result.attributes() == {
        "PackageArn": ARN,
        "ModelDataUrl": "s3://dest/m/model.tar.gz",
        "Image": IMAGE,
        "ArtifactSha256": hashlib.sha256(MODEL).hexdigest(),
        "SourceModelDataUrl": "s3://reg/exec/model.tar.gz",
    }


def test_promote_copies_in_parts_of_the_part_size_it_is_given() -> None:
    _, _, _, dest = run(package(), part_size=4)
    assert [call[3:] for call in dest.calls[:6]] == [
        (),
        (KMS,),
        (1, b"mode"),
        (2, b"l-by"),
        (3, b"tes"),
        (),
    ]


def test_promote_without_baselines_copies_only_the_artifact() -> None:
    result, _, source, dest = run(package(), promote.PromotionRequest.from_properties(properties()))
    assert source.calls == [("get_object", "reg", "exec/model.tar.gz")]
    assert [call[:3] for call in dest.calls] == [
        ("head_object", "dest", "m/model.tar.gz"),
        ("put_object", "dest", "m/model.tar.gz"),
    ]
    assert result.baselines == {}


def test_a_container_without_an_image_promotes_an_empty_image_when_no_rule_applies() -> None:
    spec = {"Containers": [{"ModelDataUrl": "s3://reg/exec/model.tar.gz"}]}
    result, _, _, _ = run(package(InferenceSpecification=spec), promote.PromotionRequest.from_properties(properties()))
    assert result.image == ""


def refused(found: dict[str, Any] | Exception, rules: promote.PromotionRequest | None = None) -> str:
    """The refusal of ``found``; also checks that nothing was read from the registry bucket or written."""
    source, dest = FakeS3(SOURCES), FakeS3()
    with pytest.raises(promote.PromotionError) as caught:
        promote.promote(
            rules
            or promote.PromotionRequest.from_properties(
                properties(Baselines=[TRAINING], RequiredBaselines=["training"])
            ),
            sagemaker=FakeSageMaker(found),
            source_s3=source,
            dest_s3=dest,
        )
    assert (source.calls, dest.calls) == ([], [])
    return str(caught.value)


@pytest.mark.parametrize(
    ("spec", "count"),
    [
        (None, 0),
        ({}, 0),
        ({"Containers": []}, 0),
        ({"Containers": [{"ModelDataUrl": "s3://reg/a"}, {"ModelDataUrl": "s3://reg/b"}]}, 2),
    ],
    ids=["no-inference-specification", "no-containers", "empty-containers", "two-containers"],
)
def test_a_package_without_exactly_one_container_is_refused_with_the_count(spec: Any, count: int) -> None:
    assert refused(package(InferenceSpecification=spec)) == (
        f"{ARN}: expected exactly one inference container, found {count}"
    )


@pytest.mark.parametrize("url", [None, 5])
def test_a_container_without_a_model_data_url_is_refused(url: Any) -> None:
    container = {"Image": IMAGE} if url is None else {"Image": IMAGE, "ModelDataUrl": url}
    assert refused(package(InferenceSpecification={"Containers": [container]})) == (
        f"{ARN}: its container has no ModelDataUrl (a model.tar.gz in S3)"
    )


def test_an_image_outside_the_rules_is_refused_before_anything_is_read() -> None:
    rules = request(image_prefixes=("other-repo:",))
    assert refused(package(), rules) == (
        f"{ARN}: image {IMAGE!r} is not one this environment may pull; allowed: an image starting with other-repo:"
    )


def test_an_image_missing_from_the_container_is_refused_as_empty_when_rules_apply() -> None:
    spec = {"Containers": [{"ModelDataUrl": "s3://reg/exec/model.tar.gz"}]}
    assert refused(package(InferenceSpecification=spec), request(images=("repo@sha256:1",))) == (
        f"{ARN}: image '' is not one this environment may pull; allowed: exactly repo@sha256:1"
    )


@pytest.mark.parametrize(
    ("metadata", "shown"),
    [
        (None, "None"),
        ({}, "None"),
        ({"ModelArtifactSha256": "A" * 64}, repr("A" * 64)),
        ({"ModelArtifactSha256": "a" * 63}, repr("a" * 63)),
        ({"ModelArtifactSha256": 5}, "5"),
    ],
    ids=["no-metadata", "no-hash", "uppercase", "short", "number"],
)
def test_a_package_without_a_lowercase_hex_sha256_is_refused_saying_what_to_record(metadata: Any, shown: str) -> None:
    assert refused(package(CustomerMetadataProperties=metadata), request()) == (
        f"{ARN}: CustomerMetadataProperties.ModelArtifactSha256 is {shown}; expected the lowercase hex SHA-256 of "
        "model.tar.gz, recorded by the training pipeline at registration"
    )


def test_a_missing_required_baseline_is_refused_before_anything_is_read() -> None:
    metadata = {"ModelArtifactSha256": hashlib.sha256(MODEL).hexdigest()}
    assert refused(package(CustomerMetadataProperties=metadata)) == (
        f"{ARN}: the environment's monitoring needs baselines the package does not record: training "
        "(CustomerMetadataProperties.TrainingBaselineS3Uri); register them with the package or turn the monitor "
        "that needs them off"
    )


def test_a_malformed_model_data_url_is_refused_before_anything_is_read() -> None:
    spec = {"Containers": [{"Image": IMAGE, "ModelDataUrl": "https://reg/exec/model.tar.gz"}]}
    assert refused(package(InferenceSpecification=spec), request()) == (
        "'https://reg/exec/model.tar.gz' is not an S3 object URI (s3://bucket/key)"
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            ClientError({"Error": {"Code": "AccessDeniedException", "Message": "x"}}, "DescribeModelPackage"),
            "AccessDeniedException",
        ),
        (ClientError({}, "DescribeModelPackage"), ""),  # type: ignore[arg-type]
    ],
)
def test_a_package_that_cannot_be_described_is_refused_naming_the_code_and_the_policy(
    error: ClientError, code: str
) -> None:
    message = refused(error)
    assert message == (
        f"{ARN}: DescribeModelPackage failed ({code}): the package must exist and the registry's package group "
        "policy must let this environment's promotion role describe it"
    )


def test_a_baseline_that_cannot_be_read_is_named_as_that_baseline_of_the_package() -> None:
    sagemaker, source, dest = FakeSageMaker(package()), FakeS3(SOURCES), FakeS3()
    del source.objects[("reg", "exec/train.csv")]
    rules = promote.PromotionRequest.from_properties(properties(Baselines=[TRAINING]))

    with pytest.raises(promote.PromotionError) as caught:
        promote.promote(rules, sagemaker=sagemaker, source_s3=source, dest_s3=dest)

    assert str(caught.value).startswith(f"baseline training of {ARN}: cannot read s3://reg/exec/train.csv (NoSuchKey)")


def test_a_tampered_artifact_is_named_as_the_model_artifact_of_the_package_and_nothing_is_written() -> None:
    sagemaker, source, dest = (
        FakeSageMaker(package()),
        FakeS3({**SOURCES, ("reg", "exec/model.tar.gz"): b"x"}),
        FakeS3(),
    )

    with pytest.raises(promote.PromotionError) as caught:
        promote.promote(request(), sagemaker=sagemaker, source_s3=source, dest_s3=dest)

    assert str(caught.value).startswith(f"the model artifact of {ARN}: s3://reg/exec/model.tar.gz has SHA-256 ")
    assert dest.calls == [("head_object", "dest", "m/model.tar.gz")]
