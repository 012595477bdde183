"""Promotion, exact: which recorded baselines are found (drift-check sections and customer metadata), the message
naming where a missing one is recorded, and the wording of the refusals an operator reads.

Written against the survivors of ``make mutate-lambda FN=promote_model`` (README, "Development"): the moto tests
never promoted a package whose training baseline sits in CustomerMetadataProperties, nor asserted these messages.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

PROMOTE_DIR = Path(__file__).resolve().parents[2] / "lambda" / "promote_model"
if str(PROMOTE_DIR) not in sys.path:
    sys.path.insert(0, str(PROMOTE_DIR))

import promote  # noqa: E402

ARN = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/breast-cancer/3"
TRAINING = promote.BaselineSpec("training", "CustomerMetadata", "TrainingBaselineS3Uri", "b/training.csv")
STATISTICS = promote.BaselineSpec("statistics", "ModelDataQuality", "Statistics", "b/statistics.json")


def request(required: frozenset[str] = frozenset()) -> promote.PromotionRequest:
    return promote.PromotionRequest(
        package_arn=ARN,
        bucket="dest",
        kms_key_arn="arn:aws:kms:eu-west-1:222222222222:key/k",
        artifact_key="m/model.tar.gz",
        baselines=(TRAINING, STATISTICS),
        required_baselines=required,
    )


def package(metadata: Any = None, drift: Any = None) -> dict[str, Any]:
    return {"CustomerMetadataProperties": metadata, "DriftCheckBaselines": drift}


def test_the_training_baseline_is_read_from_customer_metadata_and_the_others_from_drift_check_baselines() -> None:
    found = promote._baseline_sources(
        package(
            {"TrainingBaselineS3Uri": "s3://reg/train.csv", "ModelArtifactSha256": "0" * 64},
            {"ModelDataQuality": {"Statistics": {"S3Uri": "s3://reg/stats.json"}}},
        ),
        request(frozenset({"training", "statistics"})),
    )
    assert found == {"training": "s3://reg/train.csv", "statistics": "s3://reg/stats.json"}


@pytest.mark.parametrize("value", ["", None, 7, ["s3://reg/train.csv"]])
def test_an_empty_or_non_text_recorded_uri_counts_as_absent(value: Any) -> None:
    assert promote._baseline_sources(package({"TrainingBaselineS3Uri": value}), request()) == {}


def test_a_package_without_metadata_or_drift_baselines_records_none() -> None:
    assert promote._baseline_sources({}, request()) == {}


def test_a_missing_required_baseline_is_named_with_where_the_package_should_record_it() -> None:
    with pytest.raises(promote.PromotionError) as caught:
        promote._baseline_sources(package(), request(frozenset({"training", "statistics"})))
    assert str(caught.value) == (
        f"{ARN}: the environment's monitoring needs baselines the package does not record: "
        "training (CustomerMetadataProperties.TrainingBaselineS3Uri), "
        "statistics (DriftCheckBaselines.ModelDataQuality.Statistics); "
        "register them with the package or turn the monitor that needs them off"
    )


def test_a_malformed_s3_uri_is_refused_naming_it() -> None:
    with pytest.raises(promote.PromotionError) as caught:
        promote.split_s3_uri("https://reg/train.csv")
    assert str(caught.value) == "'https://reg/train.csv' is not an S3 object URI (s3://bucket/key)"


def test_a_digest_mismatch_names_the_source_both_digests_and_that_nothing_was_written() -> None:
    with pytest.raises(promote.PromotionError) as caught:
        promote._check("a" * 64, "b" * 64, ("reg-bucket", "m/model.tar.gz"), "model artifact")
    assert str(caught.value) == (
        f"model artifact: s3://reg-bucket/m/model.tar.gz has SHA-256 {'a' * 64}, but the package records {'b' * 64}; "
        "the artifact changed after registration: refused, nothing was written"
    )
    promote._check("a" * 64, "a" * 64, ("reg-bucket", "k"), "model artifact")
    promote._check("a" * 64, None, ("reg-bucket", "k"), "baseline")
