"""Exact behaviour of ``mlops_config/model_kind.py`` that mutation testing found unasserted: version aliases of the
SDK's image registry, the whole list of allowed versions, the Region of a resolved framework image, a registry
entry of another shape, and the gate of a problem type without a default."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mlops_config.model_kind import (
    ImageRepository,
    ImageSettings,
    QualityGate,
    QualityMetric,
    framework_repository,
    framework_versions,
    gate_for,
)


def _registry_file(framework: str) -> dict[str, Any]:
    # Read the SDK's bundled JSON directly, not through the code under test.
    spec = find_spec("sagemaker")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "core" / "image_uri_config" / f"{framework}.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def test_a_problem_type_without_a_default_gate_names_the_field() -> None:
    with pytest.raises(ValueError) as caught:
        gate_for("regression", None)
    assert str(caught.value) == "training.quality_gate is required for regression models (no default gate)"


def test_the_versions_listed_include_the_registrys_aliases_after_its_versions() -> None:
    section = _registry_file("xgboost")["training"]
    assert section["version_aliases"] == {"latest": "1"}  # the fixture this test relies on
    assert framework_versions("xgboost", "training") == (*section["versions"], "latest")


def test_an_unknown_version_lists_every_allowed_version_and_alias() -> None:
    section = _registry_file("xgboost")["training"]
    allowed = ", ".join([*section["versions"], *section["version_aliases"]])
    with pytest.raises(ValueError) as caught:
        framework_repository("xgboost", "9", "training", "eu-west-1")
    assert str(caught.value) == f"xgboost has no training image version '9'; allowed: {allowed}"
    assert ", 1.7-1, " in str(caught.value) and str(caught.value).endswith(", latest")


@pytest.mark.parametrize(("alias", "version"), [("2.1", "2.1.0"), ("1.13", "1.13.1")])
def test_a_version_alias_resolves_to_the_version_it_names(alias: str, version: str) -> None:
    section = _registry_file("pytorch")["inference"]
    assert section["version_aliases"][alias] == version
    assert framework_repository("pytorch", alias, "inference", "eu-west-1") == ImageRepository(
        account=str(section["versions"][version]["registries"]["eu-west-1"]),
        region="eu-west-1",
        repository="pytorch-inference",
    )


def test_a_framework_image_resolves_to_its_account_region_and_repository() -> None:
    assert framework_repository("sklearn", "1.2-1", "training", "us-east-1") == ImageRepository(
        account="683313688378", region="us-east-1", repository="sagemaker-scikit-learn", reference=None
    )


def test_a_registry_entry_split_by_python_version_is_refused_for_what_it_is() -> None:
    # TensorFlow 1.13.1's training entry is split by Python version ({"py2": {...}, "py3": {...}}), not the shape
    # (registries, repository) the other entries share. It used to be refused as "no training image in region
    # eu-west-1", which is untrue: the images exist, per Python version, and an image setting names none.
    entry = _registry_file("tensorflow")["training"]["versions"]["1.13.1"]
    assert list(entry) == ["py2", "py3"]
    assert all("registries" in entry[py] and "repository" in entry[py] for py in entry)
    with pytest.raises(ValueError) as caught:
        framework_repository("tensorflow", "1.13", "training", "eu-west-1")
    assert str(caught.value) == (
        "tensorflow 1.13.1's training images are listed per Python version (py2, py3), which an image setting "
        "cannot name; allowed: a version with one training image per Region"
    )


def test_a_version_without_an_image_in_the_region_names_both() -> None:
    with pytest.raises(ValueError) as caught:
        framework_repository("xgboost", "1.7-1", "inference", "mx-central-1")
    assert str(caught.value) == "xgboost 1.7-1 has no inference image in region mx-central-1"


# --- the decorated code mutmut leaves alone (validators, properties), pinned by hand-mutation ---


@pytest.mark.parametrize("metric", ["auc", "accuracy", "f1", "r2"])
def test_a_threshold_of_exactly_1_can_be_met(metric: QualityMetric) -> None:
    assert QualityGate(metric=metric, threshold=1).threshold == 1.0


def test_a_user_image_uri_keeps_its_tag_or_digest_separator() -> None:
    digest = "sha256:" + "ab" * 32
    assert ImageRepository("123456789012", "eu-west-1", "team/churn", digest).uri == (
        f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/churn@{digest}"
    )
    # A tag may itself start with "sha256" (Docker's tag grammar allows it); only "sha256:" is a digest.
    for tag in ("v1", "sha256abc"):
        assert ImageRepository("123456789012", "eu-west-1", "team/churn", tag).uri == (
            f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/churn:{tag}"
        )
        image = ImageSettings(uri=f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/churn:{tag}")
        assert image.repository("inference", "eu-west-1").uri == image.uri


def test_a_framework_image_has_no_uri_of_its_own() -> None:
    with pytest.raises(ValueError) as caught:
        _ = ImageRepository("141502667606", "eu-west-1", "sagemaker-xgboost").uri
    assert str(caught.value) == "sagemaker-xgboost: a framework image's URI comes from the SDK's image_uris"


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (
            {"uri": "docker.io/library/python:3.12"},
            "uri 'docker.io/library/python:3.12' is not an ECR image URI; allowed: "
            "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex digits> (or :<tag>)",
        ),
        (
            {"framework": "xgboost"},
            "an image needs framework and version (framework allowed: xgboost, sklearn, pytorch, tensorflow) or uri",
        ),
        (
            {"version": "1.7-1"},
            "an image needs framework and version (framework allowed: xgboost, sklearn, pytorch, tensorflow) or uri",
        ),
    ],
)
def test_a_bad_image_whole_message(image: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ImageSettings(**image)
    assert [error["msg"] for error in caught.value.errors()] == [f"Value error, {message}"]
