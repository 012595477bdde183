"""Batch window settings, exact: every default, every bound, and the whole cold-start message naming each variable.

Written against the survivors of ``make mutate-lambda FN=batch_window MUTATE='window.xǁSettingsǁfrom_env*'``
(README, "Development"): the handler tests matched one variable name per bad configuration, not the defaults, the
inclusive bounds, nor the message that lists every mistake at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "lambda" / "batch_window"
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

import window  # noqa: E402

ACCOUNT = "123456789012"
REGION = "eu-west-1"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/batch-new-data"
REQUIRED = {
    "QUEUE_URL": QUEUE_URL,
    "PIPELINE_NAME": "mlops-prod-breast-cancer-batch",
    "DATA_BUCKET": "mlops-prod-data-123456789012-eu-west-1",
    "INPUT_PREFIX": "breast-cancer/batch/input/",
    "MANIFEST_PREFIX": "breast-cancer/batch/manifests/",
    "EXPECTED_ACCOUNT": ACCOUNT,
    "EXPECTED_REGION": REGION,
}
PREFIX = "invalid batch-window configuration: "


def refusal(**changes: str | None) -> str:
    """The ConfigError message for the required variables with ``changes`` (``None`` removes a variable)."""
    env = {**REQUIRED, **changes}
    with pytest.raises(window.ConfigError) as caught:
        window.Settings.from_env({name: value for name, value in env.items() if value is not None})
    return str(caught.value)


def test_only_the_required_variables_give_the_documented_defaults() -> None:
    assert window.Settings.from_env(REQUIRED) == window.Settings(
        queue_url=QUEUE_URL,
        pipeline_name="mlops-prod-breast-cancer-batch",
        data_bucket="mlops-prod-data-123456789012-eu-west-1",
        input_prefix="breast-cancer/batch/input/",
        manifest_prefix="breast-cancer/batch/manifests/",
        expected_account=ACCOUNT,
        expected_region=REGION,
        input_parameter="InputDataUri",
        input_type_parameter="InputDataType",
        trigger_parameter="TriggerReason",
        max_keys=10000,
        receive_wait_seconds=1,
        visibility_timeout_seconds=900,
        service_name="batch-window",
        log_level="INFO",
    )


def test_every_variable_is_read_into_its_own_field() -> None:
    env = {
        **REQUIRED,
        "MAX_KEYS": "7",
        "RECEIVE_WAIT_SECONDS": "3",
        "VISIBILITY_TIMEOUT_SECONDS": "31",
        "POWERTOOLS_SERVICE_NAME": "batch-window-prod",
        "LOG_LEVEL": "debug",
    }
    settings = window.Settings.from_env(env)
    assert (
        settings.max_keys,
        settings.receive_wait_seconds,
        settings.visibility_timeout_seconds,
        settings.service_name,
        settings.log_level,
    ) == (7, 3, 31, "batch-window-prod", "DEBUG")


def test_an_empty_environment_names_every_required_variable_and_nothing_else() -> None:
    with pytest.raises(window.ConfigError) as caught:
        window.Settings.from_env({})
    assert str(caught.value) == PREFIX + "; ".join(f"{name} is required" for name in REQUIRED)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_one_missing_variable_is_the_only_one_named(name: str) -> None:
    assert refusal(**{name: None}) == f"{PREFIX}{name} is required"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/12345/q"),
        ("PIPELINE_NAME", "-starts-with-a-dash"),
        ("DATA_BUCKET", "Upper-Case-Bucket"),
        ("INPUT_PREFIX", "no-trailing-slash"),
        ("MANIFEST_PREFIX", "has space/"),
        ("EXPECTED_ACCOUNT", "12345678901"),
        ("EXPECTED_REGION", "EU-WEST-1"),
    ],
)
def test_a_malformed_variable_is_named_with_its_value(name: str, value: str) -> None:
    assert refusal(**{name: value}) == f"{PREFIX}{name}={value!r} is malformed"


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("MAX_KEYS", 1, 100000), ("RECEIVE_WAIT_SECONDS", 0, 20), ("VISIBILITY_TIMEOUT_SECONDS", 30, 43200)],
)
def test_each_number_accepts_its_inclusive_bounds_and_names_the_range_just_outside(
    name: str, low: int, high: int
) -> None:
    field = {
        "MAX_KEYS": "max_keys",
        "RECEIVE_WAIT_SECONDS": "receive_wait_seconds",
        "VISIBILITY_TIMEOUT_SECONDS": "visibility_timeout_seconds",
    }[name]
    for value in (low, high):
        assert getattr(window.Settings.from_env({**REQUIRED, name: str(value)}), field) == value
    for value in (low - 1, high + 1):
        assert refusal(**{name: str(value)}) == f"{PREFIX}{name}={value} is outside {low}-{high}"


@pytest.mark.parametrize("name", ["MAX_KEYS", "RECEIVE_WAIT_SECONDS", "VISIBILITY_TIMEOUT_SECONDS"])
def test_a_number_that_is_not_an_integer_is_named_with_its_text(name: str) -> None:
    assert refusal(**{name: "1.5"}) == f"{PREFIX}{name}='1.5' is not an integer"


def test_an_unknown_log_level_is_named_uppercased_with_the_allowed_levels() -> None:
    assert refusal(LOG_LEVEL="verbose") == (
        f"{PREFIX}LOG_LEVEL='VERBOSE'; allowed: DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )


@pytest.mark.parametrize(
    ("input_prefix", "manifest_prefix"),
    [
        ("batch/input/", "batch/input/manifests/"),  # manifests under the input prefix
        ("batch/input/", "batch/"),  # the input prefix under the manifests
        ("batch/input/", "batch/input/"),  # the same prefix
    ],
)
def test_overlapping_prefixes_are_refused_either_way_round(input_prefix: str, manifest_prefix: str) -> None:
    assert refusal(INPUT_PREFIX=input_prefix, MANIFEST_PREFIX=manifest_prefix) == (
        f"{PREFIX}INPUT_PREFIX/MANIFEST_PREFIX overlap: a manifest would count as new data"
    )


def test_sibling_prefixes_sharing_leading_characters_do_not_overlap() -> None:
    settings = window.Settings.from_env({**REQUIRED, "INPUT_PREFIX": "batch/in/", "MANIFEST_PREFIX": "batch/inx/"})
    assert (settings.input_prefix, settings.manifest_prefix) == ("batch/in/", "batch/inx/")


def test_every_mistake_is_listed_in_one_message_in_order() -> None:
    env = {
        "QUEUE_URL": "not-a-url",
        "DATA_BUCKET": "b",
        "INPUT_PREFIX": "batch/",
        "MANIFEST_PREFIX": "batch/manifests/",
        "EXPECTED_ACCOUNT": ACCOUNT,
        "EXPECTED_REGION": REGION,
        "MAX_KEYS": "many",
        "RECEIVE_WAIT_SECONDS": "21",
        "VISIBILITY_TIMEOUT_SECONDS": "29",
        "LOG_LEVEL": "trace",
    }
    with pytest.raises(window.ConfigError) as caught:
        window.Settings.from_env(env)
    assert str(caught.value) == PREFIX + "; ".join(
        [
            "QUEUE_URL='not-a-url' is malformed",
            "PIPELINE_NAME is required",
            "DATA_BUCKET='b' is malformed",
            "MAX_KEYS='many' is not an integer",
            "RECEIVE_WAIT_SECONDS=21 is outside 0-20",
            "VISIBILITY_TIMEOUT_SECONDS=29 is outside 30-43200",
            "LOG_LEVEL='TRACE'; allowed: DEBUG, INFO, WARNING, ERROR, CRITICAL",
            "INPUT_PREFIX/MANIFEST_PREFIX overlap: a manifest would count as new data",
        ]
    )


def test_a_missing_prefix_is_not_also_reported_as_an_overlap() -> None:
    assert refusal(INPUT_PREFIX=None, MANIFEST_PREFIX=None) == (
        f"{PREFIX}INPUT_PREFIX is required; MANIFEST_PREFIX is required"
    )
    assert refusal(INPUT_PREFIX=None) == f"{PREFIX}INPUT_PREFIX is required"
