"""Hostile configuration files: whatever the file holds, one ConfigError naming file and field, fast, no traceback."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_config import ConfigError, load_config, parse_config
from mlops_config.loader import MAX_FILE_BYTES, MAX_LINE
from mlops_config.schedule import schedule_problem
from tests.conftest import DEFAULT_CONFIG, raw_default_config

SOURCE = Path("config/platform.yaml")
SHIPPED = DEFAULT_CONFIG.read_bytes()
BOUND_SECONDS = 5.0


def _load_bytes(tmp_path: Path, data: bytes) -> tuple[Any, float]:
    path = tmp_path / "platform.yaml"
    path.write_bytes(data)
    start = time.monotonic()
    try:
        return load_config(path), time.monotonic() - start
    except ConfigError as error:
        return error, time.monotonic() - start


def _refused(tmp_path: Path, data: bytes) -> list[str]:
    """The error's lines; asserts a ConfigError (never another exception) within the time bound."""
    result, seconds = _load_bytes(tmp_path, data)
    assert isinstance(result, ConfigError), f"accepted: {result!r}"
    assert seconds < BOUND_SECONDS, f"took {seconds:.1f}s"
    lines = str(result).splitlines()
    assert all(len(line) <= MAX_LINE + 2 for line in lines), [len(line) for line in lines]
    return lines


def _invalid(change: Callable[[dict[str, Any]], None]) -> list[str]:
    raw = copy.deepcopy(raw_default_config())
    change(raw)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source=SOURCE)
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid configuration"
    return [line.strip() for line in lines[1:]]


# --- encodings ---------------------------------------------------------------------------------------------------


def test_utf8_with_a_byte_order_mark_loads_like_the_shipped_file(tmp_path: Path, default_config: Any) -> None:
    loaded, _ = _load_bytes(tmp_path, b"\xef\xbb\xbf" + SHIPPED)
    assert loaded == default_config


def test_utf16_with_a_byte_order_mark_loads_like_the_shipped_file(tmp_path: Path, default_config: Any) -> None:
    loaded, _ = _load_bytes(tmp_path, b"\xff\xfe" + SHIPPED.decode("utf-8").encode("utf-16-le"))
    assert loaded == default_config


def test_a_latin1_byte_names_line_and_offset(tmp_path: Path) -> None:
    data = SHIPPED.replace(b"Sample tabular", "Sämple tabular".encode("latin-1"))
    offset = data.index(b"\xe4")
    line = data[:offset].count(b"\n") + 1
    assert _refused(tmp_path, data) == [
        f"{tmp_path / 'platform.yaml'}: line {line}: byte b'\\xe4' at offset {offset} is not UTF-8; "
        "allowed: a UTF-8 text file"
    ]


def test_a_nul_character_is_refused_with_its_line(tmp_path: Path) -> None:
    assert _refused(tmp_path, b"project: mlops\nregistry_environment: \x00\n") == [
        f"{tmp_path / 'platform.yaml'}: not valid YAML: line 2: character #x0000 is not printable; "
        "allowed: printable text"
    ]


def test_an_empty_file_says_it_holds_no_settings(tmp_path: Path) -> None:
    assert _refused(tmp_path, b"") == [
        f"{tmp_path / 'platform.yaml'}: (top level): the file holds no settings; allowed: a mapping of settings"
    ]


def test_a_file_larger_than_the_limit_is_not_parsed(tmp_path: Path) -> None:
    data = b"project: '" + b"a" * MAX_FILE_BYTES + b"'\n"
    assert _refused(tmp_path, data) == [
        f"{tmp_path / 'platform.yaml'}: the configuration is larger than {MAX_FILE_BYTES} bytes; "
        "allowed: a smaller file"
    ]


# --- YAML structure ----------------------------------------------------------------------------------------------


def test_a_second_top_level_block_is_a_duplicate_key_not_a_silent_replacement(tmp_path: Path) -> None:
    data = SHIPPED + b"\nenvironments:\n  - name: qa\n"
    line = SHIPPED.count(b"\n") + 2
    first = SHIPPED.splitlines().index(b"environments:") + 1
    assert _refused(tmp_path, data) == [
        f"{tmp_path / 'platform.yaml'}: not valid configuration YAML: line {line}, column 1: duplicate key "
        f"'environments' (first at line {first}); YAML keys are unique and a second block would silently replace "
        "the first; allowed: each key once"
    ]


def test_a_duplicate_key_inside_a_model_is_refused(tmp_path: Path) -> None:
    twice = b"    training:\n      max_runtime_seconds: 600\n      max_runtime_seconds: 900\n"
    data = SHIPPED.replace(b"    training:\n", twice)
    (line,) = _refused(tmp_path, data)
    assert "duplicate key 'max_runtime_seconds' (first at line" in line


def test_deep_nesting_is_refused_quickly(tmp_path: Path) -> None:
    assert _refused(tmp_path, b"project: " + b"[" * 200_000 + b"]" * 200_000) == [
        f"{tmp_path / 'platform.yaml'}: not valid configuration YAML: line 1, column 41: nested deeper than 32 levels"
    ]


def test_an_alias_bomb_is_refused_before_validation(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for previous, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    assert _refused(tmp_path, ("\n".join(lines) + "\n").encode()) == [
        f"{tmp_path / 'platform.yaml'}: not valid configuration YAML: more than 200000 values once aliases are "
        "expanded; allowed: a smaller document"
    ]


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object/apply:os.system ['touch /tmp/pwned']", "python/object/apply:os.system"),
        ("!!set {a, b}", "set"),
        ("!!binary aGVsbG8=", "binary"),
        ("2026-01-01", "timestamp"),
    ],
)
def test_tags_that_construct_objects_are_refused(tmp_path: Path, value: str, tag: str) -> None:
    data = SHIPPED.replace(b"project: mlops", f"project: {value}".encode())
    assert _refused(tmp_path, data) == [
        f"{tmp_path / 'platform.yaml'}: not valid configuration YAML: line 4, column 10: tag "
        f"'tag:yaml.org,2002:{tag}' is not allowed; allowed: plain strings, numbers, booleans, lists and mappings "
        "(quote dates and other values YAML would convert)"
    ]


def test_a_second_document_is_refused(tmp_path: Path) -> None:
    (line,) = _refused(tmp_path, SHIPPED + b"---\nproject: other\n")
    second = SHIPPED.count(b"\n") + 1
    assert line == f"{tmp_path / 'platform.yaml'}: not valid YAML: line {second}, column 1: but found another document"


# --- bounded, one line per mistake -------------------------------------------------------------------------------


def test_a_mistake_inside_a_model_is_one_line_not_a_dump_of_models() -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["models"][0]["environments"]["dev"]["serving"]["serverless"]["max_concurrency"] = 500

    assert _invalid(change) == [
        f"{SOURCE}: models[0].environments.dev.serving.serverless.max_concurrency: 500: "
        "Input should be less than or equal to 200"
    ]


def test_a_megabyte_value_is_quoted_in_at_most_120_characters() -> None:
    (line,) = _invalid(lambda raw: raw.update(project="a" * 1_000_000))
    assert line == (
        f"{SOURCE}: project: '{'a' * 57}...{'a' * 58}' is not a valid name; allowed: 2-12 characters of lowercase "
        "letters, digits and single hyphens, starting with a letter and not ending with a hyphen"
    )


def test_thousands_of_unknown_keys_are_one_bounded_line() -> None:
    (line,) = _invalid(lambda raw: raw.update({f"k{i}": 1 for i in range(3000)}))
    assert line == (
        f"{SOURCE}: unknown key(s) 'k0', 'k1', 'k10', 'k100', 'k1000' and 2995 more; "
        "allowed keys: environments, models, permissions_boundary, project, registry_environment, tooling"
    )


def test_hundreds_of_mistakes_are_capped_and_counted() -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["models"] = [{"name": f"M{i}"} for i in range(120)]

    lines = _invalid(change)
    assert len(lines) == 51
    assert lines[-1] == f"{SOURCE}: ... and 70 more mistakes"


# --- ASCII identifiers, whole value ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "accepted"),
    [
        ("123456789012", True),
        ("12345678901", False),
        ("1234567890123", False),
        ("123456789012\n", False),
        ("\u0661" * 12, False),  # Arabic-Indic digits match \d
        ("\uff11" * 12, False),  # fullwidth digits match \d
    ],
)
def test_account_ids_are_exactly_twelve_ascii_digits(account: str, accepted: bool) -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["environments"][1]["account"] = account

    if accepted:
        raw = copy.deepcopy(raw_default_config())
        change(raw)
        assert parse_config(raw, source=SOURCE).environments[1].account == account
        return
    assert _invalid(change) == [
        f"{SOURCE}: environments[1].account: {account!r} is not an AWS account ID; allowed: exactly 12 digits, "
        "quoted in YAML"
    ]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("models", 0, "name"), "breast-cancer\n", "models[0].name"),
        (("environments", 0, "name"), "dev\n", "environments[0].name"),
        (("project",), "mlops\n", "project"),
        (
            ("models", 0, "environments", "prod", "serving", "model_package_arn"),
            "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3\n",
            "models[0].environments.prod.serving.model_package_arn",
        ),
        (
            ("models", 0, "environments", "prod", "serving", "model_package_arn"),
            "arn:aws:sagemaker:eu-west-1:" + "\u0661" * 12 + ":model-package/mlops-breast-cancer/3",
            "models[0].environments.prod.serving.model_package_arn",
        ),
        (
            ("tooling", "connection_arn"),
            "arn:aws:codeconnections:eu-west-1:" + "\u0664" * 12 + ":connection/00000000-0000-0000-0000-000000000000",
            "tooling.connection_arn",
        ),
        (("tooling", "repository"), "my-org/sagemaker-mlops-cdk\n", "tooling.repository"),
        (("tooling", "repository"), "m\u00ffy-org/repo", "tooling.repository"),
        (("models", 0, "environments", "prod", "monitoring", "target_column"), "target\n", None),
        (("models", 0, "training", "builder"), "pipeline_defs.training_pipeline:build\n", "models[0].training.builder"),
        (
            ("models", 0, "environments", "prod", "monitoring", "end_time_offset"),
            "-P1D\n",
            "models[0].environments.prod.monitoring.end_time_offset",
        ),
        (
            ("models", 0, "environments", "prod", "monitoring", "start_time_offset"),
            "-P\u0662D",
            "models[0].environments.prod.monitoring.start_time_offset",
        ),
    ],
)
def test_identifiers_accept_ascii_only_and_nothing_after_the_value(
    path: tuple[Any, ...], value: str, field: str | None
) -> None:
    def change(raw: dict[str, Any]) -> None:
        node: Any = raw
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    (line,) = _invalid(change)
    expected = field or ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
    assert line.startswith(f"{SOURCE}: {expected}: "), line
    assert repr(value) in line


def test_a_feature_name_with_a_trailing_newline_is_refused() -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["models"][0]["environments"]["prod"]["monitoring"]["features"] = ["mean_radius\n"]

    assert _invalid(change) == [
        f"{SOURCE}: models[0].environments.prod.monitoring.features: 'mean_radius\\n' is not a usable feature name; "
        "allowed: 1-64 letters, digits, '_', '.', '-', starting with a letter or '_'"
    ]


# --- schedules ---------------------------------------------------------------------------------------------------

VALID_SCHEDULES = [
    "cron(0 3 ? * MON *)",
    "cron(0 * ? * * *)",
    "cron(0/15 * * * ? *)",
    "cron(15 10 ? * 6L 2026-2030)",
    "cron(0 8 1W * ? *)",
    "cron(0 8 L * ? *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(0 10 ? * 2#1 *)",
    "cron(5,35 14 * JAN,FEB ? *)",
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 day)",
    "rate(12 hours)",
    "at(2026-12-31T23:59:00)",
    "cron(0 8 LW * ? *)",
    "cron(0 8 ? * L *)",
    "cron(0/1 * * * ? *)",
    "cron(0/59 * * * ? *)",
    "cron(59 23 31 12 ? 2199)",
    "cron(0 0 1 1 ? 1970)",
    "cron(0 10 ? * 2#2 *)",
    "cron(0 10 ? * 2#3 *)",
    "cron(0 10 ? * 2#4 *)",
    "cron(0 10 ? * 2#5 *)",
    "cron(0 10 ? JAN-DEC SUN-SAT *)",
]


@pytest.mark.parametrize("expression", VALID_SCHEDULES)
def test_documented_schedule_expressions_are_accepted(expression: str) -> None:
    assert schedule_problem(expression) is None


INVALID_SCHEDULES = [
    ("cron(60 3 ? * MON *)", "minutes 60 is out of range; allowed: 0-59"),
    ("cron(0 24 ? * MON *)", "hours 24 is out of range; allowed: 0-23"),
    ("cron(0 3 32 * ? *)", "day-of-month 32 is out of range; allowed: 1-31"),
    ("cron(0 3 ? 13 MON *)", "month 13 is out of range; allowed: 1-12"),
    ("cron(0 3 ? * 8 *)", "day-of-week 8 is out of range; allowed: 1-7"),
    ("cron(0 3 ? * FUN *)", "day-of-week 'FUN' is not a value; allowed: 1-7 or SUN-SAT"),
    ("cron(0 3 ? * MON 1969)", "year 1969 is out of range; allowed: 1970-2199"),
    ("cron(0 3 * * * *)", "day-of-month '*' and day-of-week '*': exactly one of them must be '?'"),
    ("cron(0 3 ? * ? *)", "day-of-month '?' and day-of-week '?': exactly one of them must be '?'"),
    ("cron(? 3 1 * ? *)", "minutes '?' is allowed only in day-of-month or day-of-week"),
    ("cron(0 3 ? * MON)", "cron has 5 fields, 6 are required"),
    ("cron(0/0 3 ? * MON *)", "minutes '0/0': the increment after '/' must be 1-59"),
    ("cron(0 3 ? * 2#6 *)", "day-of-week '2#6': the week after '#' must be 1-5"),
    ("cron(0 3 ? * 2#1#3 *)", "day-of-week '2#1#3': the week after '#' must be 1-5"),
    ("cron(0 3 ? * 1/2 *)", "day-of-week '1/2': '/' is not allowed in day-of-week"),
    ("cron(0,,5 3 ? * MON *)", "minutes '0,,5' has an empty item between commas"),
    ("cron(0 8 32W * ? *)", "day-of-month 32 is out of range; allowed: 1-31"),
    ("cron(0 8 ? * 8L *)", "day-of-week 8 is out of range; allowed: 1-7"),
    ("cron(0 8 ? * 10L *)", "day-of-week 10 is out of range; allowed: 1-7"),
    ("cron(0 3 ? * MON x)", "year 'x' is not a value; allowed: 1970-2199;"),
    ("cron(0/60 3 ? * MON *)", "minutes '0/60': the increment after '/' must be 1-59"),
    ("cron(0 3 ?  * MON *)", "cron fields must be separated by single spaces"),
    ("rate(0 minutes)", "rate value 0 must be a positive integer"),
    ("rate(1 minutes)", "rate(1 minutes): with the value 1 the unit is one of minute, hour, day"),
    ("rate(5 hour)", "rate(5 hour): with a value above 1 the unit is one of minutes, hours, days"),
    ("rate(-1 days)", "not a cron(), rate() or at() expression"),
    ("rate(2 weeks)", "rate(2 weeks): with a value above 1 the unit is one of minutes, hours, days"),
    ("at(2026-02-30T00:00:00)", "day is out of range for month"),
    ("cron(0 3 ? * MON *)\n", "not a cron(), rate() or at() expression"),
    ("cron(\u0660 3 ? * MON *)", "longer than 256 characters or not ASCII"),
]


@pytest.mark.parametrize(("expression", "problem"), INVALID_SCHEDULES)
def test_schedule_expressions_are_checked_field_by_field(expression: str, problem: str) -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["models"][0]["environments"]["dev"]["retraining"]["schedule"] = expression

    (line,) = _invalid(change)
    assert line.startswith(
        f"{SOURCE}: models[0].environments.dev.retraining.schedule: {expression!r} is not a schedule expression: "
        f"{problem}"
    ), line
    assert line.endswith(
        "allowed: 'cron(minutes hours day-of-month month day-of-week year)', 'rate(N minutes|hours|days)' "
        "(singular unit for 1) or 'at(yyyy-mm-ddThh:mm:ss)'"
    )


def _long_cron(length: int) -> str:
    """A valid cron expression of exactly ``length`` characters (a long minutes list)."""
    head, tail = "cron(0", " 3 ? * MON *)"
    minutes = ""
    value = 1
    while len(head) + len(minutes) + len(tail) + len(f",{value}") <= length and value < 60:
        minutes += f",{value}"
        value += 1
    padding = length - len(head) - len(minutes) - len(tail)
    expression = head + minutes + ",0" * (padding // 2) + tail
    if len(expression) < length:
        expression = expression.replace("cron(0", "cron(00", 1)
    assert len(expression) == length, (len(expression), expression)
    return expression


def test_the_longest_accepted_schedule_is_256_characters() -> None:
    assert schedule_problem(_long_cron(256)) is None
    assert schedule_problem(_long_cron(257)) == "longer than 256 characters or not ASCII"


@pytest.mark.parametrize(("length", "quoted"), [(120, 120), (121, 117)])
def test_a_long_bad_schedule_is_quoted_up_to_120_characters(length: int, quoted: int) -> None:
    expression = "rate(" + "9" * (length - 12) + " weeks)"
    assert len(expression) == length

    def change(raw: dict[str, Any]) -> None:
        raw["models"][0]["environments"]["dev"]["retraining"]["schedule"] = expression

    (line,) = _invalid(change)
    shown = repr(expression) if quoted == length else repr(expression[:quoted]) + "..."
    assert line.startswith(
        f"{SOURCE}: models[0].environments.dev.retraining.schedule: {shown} is not a schedule expression: "
        "not a cron(), rate() or at() expression; allowed: "
    ), line


def test_a_one_time_monitoring_schedule_is_refused() -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["models"][0]["environments"]["dev"]["monitoring"]["schedule"] = "at(2026-12-31T23:59:00)"

    assert _invalid(change) == [
        f"{SOURCE}: models[0].environments.dev.monitoring: schedule: 'at(2026-12-31T23:59:00)' runs once, so "
        "monitoring would stop after one run; allowed: a recurring cron() or rate() expression"
    ]


# --- cross-field sense -------------------------------------------------------------------------------------------


def test_the_tooling_account_may_not_be_an_environment_account() -> None:
    (line,) = _invalid(lambda raw: raw["tooling"].update(account="222222222222"))
    assert line == (
        f"{SOURCE}: tooling.account: 222222222222 is also the account of environment 'staging'; the toolchain and "
        "that environment would both create the CDK pipeline's cross-account roles under the same names in one "
        "account; allowed: a tooling account no environment uses"
    )


@pytest.mark.parametrize(("value", "accepted"), [(2**53, True), (2**53 + 1, False)])
def test_min_new_bytes_the_retraining_lambda_would_refuse_is_refused_at_synth(value: int, accepted: bool) -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["models"][0]["environments"]["dev"]["retraining"]["new_data"] = {"min_new_bytes": value}

    if accepted:
        raw = copy.deepcopy(raw_default_config())
        change(raw)
        config = parse_config(raw, source=SOURCE)
        assert config.models[0].in_environment("dev").retraining.new_data.min_new_bytes == value
        return
    assert _invalid(change) == [
        f"{SOURCE}: models[0].environments.dev.retraining.new_data.min_new_bytes: {value}: "
        "Input should be less than or equal to 9007199254740992"
    ]


def test_a_drift_threshold_above_the_feature_count_is_refused() -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["models"][0]["environments"]["dev"]["monitoring"].update(
            features=["a", "b", "c"], alarms={"drifted_features_threshold": 4}
        )

    assert _invalid(change) == [
        f"{SOURCE}: models[0].environments.dev.monitoring: alarms.drifted_features_threshold (4) exceeds the 3 "
        "feature(s) monitored, so the drift alarm could never fire; allowed: 1-3"
    ]


def test_shipped_config_still_loads_through_the_bounded_reader(default_config: Any) -> None:
    assert default_config == parse_config(yaml.safe_load(SHIPPED), source=SOURCE)
