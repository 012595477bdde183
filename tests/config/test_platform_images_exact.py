"""Whole messages of the image checks in ``mlops_config/platform.py``: a user serving image in another Region or
pinned by tag in production, and a processing image the SDK's registry lacks (mutation testing found the processing
image's field and scope, and the ends of both user-image messages, unasserted)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, parse_config
from mlops_config.model_kind import framework_versions
from tests.conftest import raw_default_config

DIGEST = "sha256:" + "ab" * 32
PREFIX = "invalid configuration\n  config/platform.yaml: "


def _refusal(images: dict[str, Any]) -> str:
    raw = copy.deepcopy(raw_default_config())
    raw["models"][0]["images"] = images
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source=Path("config/platform.yaml"))
    return str(caught.value)


def test_a_user_serving_image_in_another_region_whole_message() -> None:
    uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/churn@{DIGEST}"
    assert _refusal({"serving": {"uri": uri}}) == (
        f"{PREFIX}models[0].images.serving.uri (environment 'dev'): '{uri}' is in region us-east-1, the environment "
        "in eu-west-1; SageMaker pulls a model's image from its own Region only; allowed: an image in eu-west-1 "
        "(replicate the repository there, docs/bring-your-own-model.md)"
    )


def test_a_user_serving_image_pinned_by_tag_in_production_whole_message() -> None:
    uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/churn:v1"
    assert _refusal({"serving": {"uri": uri}}) == (
        f"{PREFIX}models[0].images.serving.uri (environment 'prod'): '{uri}' is pinned by tag, which can be moved to "
        "other bytes after the model was approved; allowed in a production environment: "
        "<repository>@sha256:<64 hex digits>"
    )


def test_a_processing_image_is_resolved_as_a_training_scope_image_and_named_as_processing() -> None:
    allowed = ", ".join(framework_versions("sklearn", "training"))
    assert _refusal({"processing": {"framework": "sklearn", "version": "9.9-9"}}) == (
        f"{PREFIX}models[0].images.processing (environment 'dev'): sklearn has no training image version '9.9-9'; "
        f"allowed: {allowed}"
    )
    # The training scope's list, not the inference one's: the two differ in the SDK's registry.
    assert allowed != ", ".join(framework_versions("sklearn", "inference"))
