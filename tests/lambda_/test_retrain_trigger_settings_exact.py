"""Retrain trigger: ``Settings.from_env`` exact (every field, every message, every range's both ends).

Written against the survivors of ``make mutate-lambda FN=retrain_trigger MUTATE='trigger_settings.*'`` (README,
"Development"): the configuration tests matched a part of each message and never set the optional variables to
anything but their defaults, nor a range's ends; here the whole ``ConfigError`` message is compared.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import retrain

PREFIX = "invalid retrain-trigger configuration: "
LONG_SOURCES = '["' + "1" * 100 + '"]'
LONG_NAME = '["' + "a" * 256 + '"]'  # one character over CloudWatch's 255
SOURCE_FORM = '"<account>:<region>"'


def _error(env: dict[str, str]) -> str:
    with pytest.raises(retrain.ConfigError) as raised:
        retrain.Settings.from_env(env)
    return str(raised.value)


def test_every_variable_set_becomes_its_field(retrain_env: dict[str, str]) -> None:
    env = {
        **retrain_env,
        "POWERTOOLS_SERVICE_NAME": "retrain-trigger-churn",
        "LOG_LEVEL": " debug ",
        "MAX_EVENT_BYTES": "2048",
        "HISTORY_LOOKBACK_HOURS": "48",
        "MAX_LISTED_OBJECTS": "5000",
        "ALARM_SOURCES": '["444455556666:us-east-1"]',
        "TRIGGER_PARAMETER_NAME": "Why",
    }

    assert retrain.Settings.from_env(env) == retrain.Settings(
        pipeline_name="churn-dev-training",
        model_name="churn",
        environment_name="dev",
        expected_account="123456789012",
        expected_region="eu-west-1",
        alarm_names=frozenset({"churn-dev-feature-drift", "churn-dev-model-quality"}),
        data_bucket="mlops-dev-training-data",
        data_prefix="churn/training/",
        min_new_objects=3,
        min_new_bytes=0,
        cooldown=timedelta(minutes=60),
        daily_cap=3,
        trigger_parameter_name="Why",
        service_name="retrain-trigger-churn",
        log_level="DEBUG",
        max_event_bytes=2048,
        history_lookback=timedelta(hours=48),
        max_listed_objects=5000,
        alarm_sources=frozenset({("444455556666", "us-east-1")}),
    )


def test_the_optional_variables_left_out_take_their_defaults(retrain_env: dict[str, str]) -> None:
    env = {k: v for k, v in retrain_env.items() if k not in {"TRIGGER_PARAMETER_NAME", "LOG_LEVEL"}}

    settings = retrain.Settings.from_env(env)

    assert (
        settings.trigger_parameter_name,
        settings.log_level,
        settings.max_event_bytes,
        settings.history_lookback,
        settings.max_listed_objects,
        settings.alarm_sources,
    ) == ("TriggerReason", "INFO", 65536, timedelta(hours=168), 100_000, frozenset())


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("PIPELINE_NAME", "bad name!", "PIPELINE_NAME='bad name!' is invalid (expected a SageMaker pipeline name)"),
        ("MODEL_NAME", "churn model", "MODEL_NAME='churn model' is invalid (expected 1-64 of [A-Za-z0-9._-])"),
        ("ENVIRONMENT_NAME", "d/v", "ENVIRONMENT_NAME='d/v' is invalid (expected 1-64 of [A-Za-z0-9._-])"),
        ("EXPECTED_REGION", "Europe", "EXPECTED_REGION='Europe' is invalid (expected a region such as eu-west-1)"),
        ("DATA_BUCKET", "Bad_Bucket", "DATA_BUCKET='Bad_Bucket' is invalid (expected an S3 bucket name)"),
        (
            "TRIGGER_PARAMETER_NAME",
            "Trigger Reason",
            "TRIGGER_PARAMETER_NAME='Trigger Reason' is invalid (expected 1-256 of [A-Za-z0-9_-])",
        ),
        ("POWERTOOLS_SERVICE_NAME", "a b", "POWERTOOLS_SERVICE_NAME='a b' is invalid (expected a non-empty name)"),
        # Whitespace alone is no value: the variable is missing, not invalid.
        ("MODEL_NAME", " \t", "MODEL_NAME is missing"),
        # Long values are quoted to 80 characters.
        ("MODEL_NAME", "m" * 100, f"MODEL_NAME={'m' * 80!r} is invalid (expected 1-64 of [A-Za-z0-9._-])"),
        (
            "LOG_LEVEL",
            "l" * 100,
            f"LOG_LEVEL={'L' * 80!r} is invalid (expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL)",
        ),
        ("DAILY_CAP", "9" * 100 + "x", f"DAILY_CAP={'9' * 80!r} is not an integer (expected 1..100)"),
        (
            "DATA_PREFIX",
            "p" * 100,
            f"DATA_PREFIX={'p' * 80!r} is invalid (expected 'some/prefix/': no leading /, trailing /)",
        ),
        (
            "ALARM_NAMES",
            "a" * 100,
            f"ALARM_NAMES={'a' * 80!r} is invalid (expected a JSON list of alarm names)",
        ),
        (
            "ALARM_SOURCES",
            LONG_SOURCES,
            f"ALARM_SOURCES={LONG_SOURCES[:80]!r} is invalid (expected a JSON list of {SOURCE_FORM})",
        ),
        (
            "ALARM_SOURCES",
            '["444455556666"]',
            'ALARM_SOURCES=\'["444455556666"]\' is invalid (expected a JSON list of "<account>:<region>")',
        ),
        # The ends of the ranges, one past them.
        ("MIN_NEW_OBJECTS", "10000001", "MIN_NEW_OBJECTS=10000001 is out of range (expected 0..10000000)"),
        ("MIN_NEW_BYTES", str(2**53 + 1), f"MIN_NEW_BYTES={2**53 + 1} is out of range (expected 0..{2**53})"),
        ("COOLDOWN_MINUTES", "10081", "COOLDOWN_MINUTES=10081 is out of range (expected 0..10080)"),
        ("DAILY_CAP", "101", "DAILY_CAP=101 is out of range (expected 1..100)"),
        ("MAX_EVENT_BYTES", "1023", "MAX_EVENT_BYTES=1023 is out of range (expected 1024..1048576)"),
        ("MAX_EVENT_BYTES", "1048577", "MAX_EVENT_BYTES=1048577 is out of range (expected 1024..1048576)"),
        ("HISTORY_LOOKBACK_HOURS", "23", "HISTORY_LOOKBACK_HOURS=23 is out of range (expected 24..2160)"),
        ("HISTORY_LOOKBACK_HOURS", "2161", "HISTORY_LOOKBACK_HOURS=2161 is out of range (expected 24..2160)"),
        ("MAX_LISTED_OBJECTS", "999", "MAX_LISTED_OBJECTS=999 is out of range (expected 1000..10000000)"),
        ("MAX_LISTED_OBJECTS", "10000001", "MAX_LISTED_OBJECTS=10000001 is out of range (expected 1000..10000000)"),
        ("DATA_PREFIX", "p/" * 256 + "/", f"DATA_PREFIX={('p/' * 256)[:80]!r} is invalid (expected 'some/prefix/':"),
        ("ALARM_NAMES", LONG_NAME, f"ALARM_NAMES={LONG_NAME[:80]!r} is invalid"),
    ],
)
def test_a_bad_value_gets_its_whole_message(retrain_env: dict[str, str], name: str, value: str, problem: str) -> None:
    message = _error({**retrain_env, name: value})

    assert message.startswith(PREFIX + problem)
    # One problem, so the message is exactly it (the prefix and the alarm-name cases above stop mid-sentence).
    assert "; " not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MIN_NEW_OBJECTS", "10000000"),
        ("MIN_NEW_BYTES", str(2**53)),
        ("DAILY_CAP", "100"),
        ("MAX_EVENT_BYTES", "1024"),
        ("MAX_EVENT_BYTES", "1048576"),
        ("HISTORY_LOOKBACK_HOURS", "2160"),
        ("MAX_LISTED_OBJECTS", "1000"),
        ("MAX_LISTED_OBJECTS", "10000000"),
        ("DATA_PREFIX", "p/" * 256),
        ("ALARM_NAMES", '["a", "' + "b" * 255 + '"]'),
    ],
)
def test_the_ends_of_each_range_are_allowed(retrain_env: dict[str, str], name: str, value: str) -> None:
    settings = retrain.Settings.from_env({**retrain_env, name: value})

    field = {
        "MIN_NEW_OBJECTS": settings.min_new_objects,
        "MIN_NEW_BYTES": settings.min_new_bytes,
        "DAILY_CAP": settings.daily_cap,
        "MAX_EVENT_BYTES": settings.max_event_bytes,
        "HISTORY_LOOKBACK_HOURS": settings.history_lookback // timedelta(hours=1),
        "MAX_LISTED_OBJECTS": settings.max_listed_objects,
        "DATA_PREFIX": settings.data_prefix,
        "ALARM_NAMES": settings.alarm_names,
    }[name]
    assert field == (frozenset({"a", "b" * 255}) if name == "ALARM_NAMES" else type(field)(value))


def test_a_zero_cool_down_and_one_as_long_as_the_history_are_allowed(retrain_env: dict[str, str]) -> None:
    zero = retrain.Settings.from_env({**retrain_env, "COOLDOWN_MINUTES": "0"})
    week = retrain.Settings.from_env({**retrain_env, "COOLDOWN_MINUTES": "10080", "HISTORY_LOOKBACK_HOURS": "168"})

    assert (zero.cooldown, week.cooldown, week.history_lookback) == (
        timedelta(0),
        timedelta(minutes=10080),
        timedelta(hours=168),
    )


def test_a_cool_down_one_minute_longer_than_the_history_is_refused(retrain_env: dict[str, str]) -> None:
    env = {**retrain_env, "COOLDOWN_MINUTES": "1441", "HISTORY_LOOKBACK_HOURS": "24"}

    assert _error(env) == (
        PREFIX + "COOLDOWN_MINUTES must not exceed HISTORY_LOOKBACK_HOURS, or the last start could be missed"
    )


def test_several_problems_are_joined_in_variable_order(retrain_env: dict[str, str]) -> None:
    env = {**retrain_env, "MODEL_NAME": "a b", "DAILY_CAP": "0"}

    assert _error(env) == (
        PREFIX + "MODEL_NAME='a b' is invalid (expected 1-64 of [A-Za-z0-9._-]); "
        "DAILY_CAP=0 is out of range (expected 1..100)"
    )


def test_both_thresholds_off_is_one_problem_unless_one_of_them_is_already_wrong(retrain_env: dict[str, str]) -> None:
    both_zero = {**retrain_env, "MIN_NEW_OBJECTS": "0", "MIN_NEW_BYTES": "0"}

    assert _error(both_zero) == PREFIX + "MIN_NEW_OBJECTS and MIN_NEW_BYTES are both 0; set at least one > 0"
    assert _error({**both_zero, "MIN_NEW_BYTES": "none"}) == (
        PREFIX + "MIN_NEW_BYTES='none' is not an integer (expected 0..9007199254740992)"
    )
