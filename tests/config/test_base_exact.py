"""Field types and helpers of the configuration, pinned exactly where `make mutate` found changes no test noticed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from mlops_config import ConfigError, parse_config
from mlops_config.approved import load_approved_models
from mlops_config.base import (
    Email,
    EndpointInstanceType,
    EnvironmentName,
    IsoDuration,
    ModelName,
    Region,
    S3Prefix,
    shown,
)
from mlops_config.catalog import instance_types, regions
from mlops_config.monitoring import MonitoringSettings, _time_offset, offset_minutes
from tests.conftest import raw_default_config

SOURCE = Path("config/platform.yaml")
PREFIX_PROBLEM = (
    "is not an S3 key prefix; allowed: a relative prefix like 'my-model/training/' (no leading slash, ending with '/')"
)
ENCODING_PROBLEM = "has characters that need URL-encoding; allowed: letters, digits, / ! _ . * ' ( ) -"


def _problem(kind: Any, value: object) -> str:
    with pytest.raises(ValidationError) as error:
        TypeAdapter(kind).validate_python(value)
    (only,) = error.value.errors()
    return str(only["msg"]).removeprefix("Value error, ")


def test_shown_cuts_a_long_rendering_to_the_limit() -> None:
    assert shown("abcdefghij" * 5, limit=10) == "'abcdef..."
    assert shown("abcdefgh", limit=10) == "'abcdefgh'"  # exactly the limit: whole


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("/data/", f"'/data/' {PREFIX_PROBLEM}"),
        ("data", f"'data' {PREFIX_PROBLEM}"),
        ("data//raw/", f"'data//raw/' {PREFIX_PROBLEM}"),
        ("///", f"'///' {PREFIX_PROBLEM}"),
        ("/", f"'/' {PREFIX_PROBLEM}"),
        ("my data/", f"'my data/' {ENCODING_PROBLEM}"),
        ("a" * 1024 + "/", f"{shown('a' * 1024 + '/')} {ENCODING_PROBLEM}"),
    ],
)
def test_a_bad_s3_prefix_is_named_with_what_is_allowed(value: str, problem: str) -> None:
    assert _problem(S3Prefix, value) == problem


@pytest.mark.parametrize("value", ["a/", "X/", "Churn/Training-2025/", "x!_.*'()-/", "a" * 1023 + "/"])
def test_a_good_s3_prefix_is_kept(value: str) -> None:
    assert TypeAdapter(S3Prefix).validate_python(value) == value


def test_an_iso_duration_names_the_examples() -> None:
    assert _problem(IsoDuration, "30D") == "'30D' is not an ISO 8601 duration; allowed: e.g. 'P30D', 'PT12H'"


def test_an_email_of_254_characters_with_capitals_is_accepted_and_255_is_not() -> None:
    longest = "A" * 64 + "@" + "b" * 185 + ".COM"
    assert len(longest) == 254
    assert TypeAdapter(Email).validate_python(longest) == longest

    too_long = "A" * 65 + "@" + "b" * 185 + ".COM"
    assert _problem(Email, too_long) == f"{shown(too_long)} is not an e-mail address; allowed: name@example.com"


# _slug and _instance_type build their checks at import (Annotated[str, _slug(12)]), before mutmut selects a
# mutant, so mutmut cannot reach them; these tests pin what they check all the same.
@pytest.mark.parametrize(("kind", "longest"), [(EnvironmentName, 12), (ModelName, 24)])
def test_a_name_may_be_exactly_its_longest_and_no_longer(kind: Any, longest: int) -> None:
    assert TypeAdapter(kind).validate_python("a" * longest) == "a" * longest
    assert _problem(kind, "a" * (longest + 1)) == (
        f"{shown('a' * (longest + 1))} is not a valid name; allowed: 2-{longest} characters of lowercase letters, "
        "digits and single hyphens, starting with a letter and not ending with a hyphen"
    )


@pytest.mark.parametrize("value", ["a--b", "1ab", "ab-", "Ab", "a", "ab\n"])
def test_a_name_breaking_one_rule_is_refused(value: str) -> None:
    assert _problem(EnvironmentName, value).startswith(f"{shown(value)} is not a valid name; allowed: 2-12 ")


def test_an_instance_type_names_the_count_and_examples() -> None:
    count = len(instance_types("endpoint"))
    assert _problem(EndpointInstanceType, "ml.x") == (
        f"'ml.x' is not a SageMaker endpoint instance type; allowed: one of the {count} ml.* types SageMaker "
        "accepts for endpoint (e.g. ml.m5.large, ml.m5.xlarge, ml.c5.large, ml.c5.xlarge)"
    )


def test_a_region_error_lists_every_region() -> None:
    assert _problem(Region, "mars-1") == (
        f"'mars-1' is not an AWS region with SageMaker; allowed: {', '.join(sorted(regions()))}"
    )


def test_an_unknown_environment_is_a_key_error_naming_it(default_config: Any) -> None:
    with pytest.raises(KeyError, match=r"^'qa'$"):
        default_config.environment("qa")


def test_an_offset_that_is_not_model_monitors_is_named() -> None:
    with pytest.raises(ValueError, match=r"^'P1D' is not a Model Monitor time offset$"):
        offset_minutes("P1D")
    with pytest.raises(ValueError, match=r"^'-P１D' is not a Model Monitor time offset$"):
        offset_minutes("-P１D")  # a full-width digit


def test_an_offset_may_be_15_characters() -> None:
    assert _time_offset("-P123456789012D") == "-P123456789012D"
    with pytest.raises(ValueError, match="at most 15 characters"):
        _time_offset("-P1234567890123D")


@pytest.mark.parametrize(("mode", "backend"), [("serverless", "endpoint_only"), ("realtime", "open")])
def test_an_unset_backend_resolves_by_serving_mode(mode: str, backend: str) -> None:
    unset = MonitoringSettings()

    resolved = unset.for_serving_mode(mode)

    assert (unset.backend, resolved.backend) == (None, backend)
    assert resolved.model_dump() == {**unset.model_dump(), "backend": backend}


def test_a_set_backend_is_kept_as_it_is() -> None:
    settings = MonitoringSettings(backend="endpoint_only")
    assert settings.for_serving_mode("serverless") is settings


def test_a_capture_backend_on_serverless_names_what_is_allowed() -> None:
    with pytest.raises(ValueError) as error:
        MonitoringSettings(backend="open").for_serving_mode("serverless")

    assert str(error.value) == (
        "backend: 'open' reads endpoint data capture, which serverless endpoints don't have (serving.mode is "
        "'serverless'); allowed: 'endpoint_only', or serving.mode 'realtime' or 'async'"
    )


def test_clarify_on_model_monitor_is_accepted() -> None:
    settings = MonitoringSettings(backend="model_monitor", bias=True)
    assert settings.for_serving_mode("realtime") is settings


def test_an_unknown_model_in_the_approved_file_lists_every_model(tmp_path: Path) -> None:
    raw = raw_default_config()
    raw["models"].append({"name": "churn", "training": {"builder": "my_models.churn:build"}})
    config = parse_config(raw, source=SOURCE)
    approved = tmp_path / "approved.json"
    approved.write_text(json.dumps({"prod": {"fraud": "x"}}), encoding="utf-8")

    with pytest.raises(ConfigError) as error:
        load_approved_models(approved, config)

    assert str(error.value) == f"{approved}: prod.fraud: not a model; allowed: breast-cancer, churn, diabetes"
