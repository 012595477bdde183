"""Configuration: the shipped file validates, and every class of mistake fails naming file, field, value, allowed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_config import ConfigError, load_config, parse_config
from mlops_config.approved import load_approved_models, served_package
from tests.conftest import DEFAULT_CONFIG, raw_default_config

SOURCE = Path("config/platform.yaml")


def test_shipped_config_is_valid_and_frozen(default_config: Any) -> None:
    assert [env.name for env in default_config.environments] == ["dev", "staging", "prod"]
    assert default_config.models[0].name == "breast-cancer"
    assert default_config.registry.name == "dev"
    assert default_config.consumer_accounts() == ("222222222222", "333333333333")
    with pytest.raises(Exception, match="frozen"):
        default_config.project = "other"  # type: ignore[misc]


def test_model_defaults_apply_to_environments_the_config_leaves_out(default_config: Any) -> None:
    model = default_config.models[0]
    assert model.in_environment("prod").serving.mode == "realtime"
    assert model.training_data_prefix == "breast-cancer/training/"


def _mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = copy.deepcopy(raw_default_config())
    change(raw)
    return raw


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        node: Any = raw
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        last = parts[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return change


MISTAKES = [
    # (what, change, field path in the message, words the message must contain)
    (
        "unknown key",
        _set("environments.0.retian_data", True),
        "environments[0]",
        ["'retian_data'", "allowed keys", "retain_data"],
    ),
    (
        "unknown nested key",
        _set("models.0.environments.prod.serving.realtime.instances", 2),
        "models[0].environments.prod.serving.realtime",
        ["'instances'", "initial_instance_count"],
    ),
    ("malformed account", _set("environments.1.account", "12345"), "environments[1].account", ["'12345'", "12 digits"]),
    (
        "unknown region",
        _set("environments.0.region", "eu-middle-9"),
        "environments[0].region",
        ["'eu-middle-9'", "eu-west-1"],
    ),
    ("duplicate environment", _set("environments.1.name", "dev"), "environments[1].name", ["'dev'", "unique names"]),
    (
        "duplicate model",
        lambda raw: raw["models"].append(copy.deepcopy(raw["models"][0])),
        "models[2].name",
        ["'breast-cancer'", "unique names"],
    ),
    (
        "not a SageMaker instance type",
        _set("models.0.environments.prod.serving.realtime.instance_type", "m5.large"),
        "models[0].environments.prod.serving.realtime.instance_type",
        ["'m5.large'", "SageMaker endpoint instance type", "ml.m5.large"],
    ),
    (
        "training instance type",
        _set("models.0.training.training_instance_type", "ml.t2.nano"),
        "models[0].training.training_instance_type",
        ["'ml.t2.nano'", "training instance type"],
    ),
    (
        "number out of range",
        _set("models.0.environments.dev.serving.serverless.max_concurrency", 500),
        "models[0].environments.dev.serving.serverless.max_concurrency",
        ["500", "less than or equal to 200"],
    ),
    (
        "threshold out of range",
        _set("models.0.training.quality_gate.threshold", 1.5),
        "models[0].training.quality_gate",
        ["1.5", "1"],
    ),
    (
        "prod does not retain data",
        _set("environments.2.retain_data", False),
        "environments[2]",
        ["production environment must retain", "allowed: true"],
    ),
    (
        "prod-looking env not marked production",
        _set("environments.2.production", False),
        "environments[2]",
        ["looks like production", "production: true"],
    ),
    (
        "bad serving mode",
        _set("models.0.environments.dev.serving.mode", "lambda"),
        "models[0].environments.dev.serving.mode",
        ["'lambda'", "'realtime'", "'serverless'"],
    ),
    (
        "model settings for an unknown environment",
        _set("models.0.environments.qa", {}),
        "models[0].environments",
        ["'qa'", "dev, staging, prod"],
    ),
    (
        "registry environment that does not exist",
        _set("registry_environment", "tooling"),
        "registry_environment",
        ["'tooling'", "dev, staging, prod"],
    ),
    (
        "registry environment that does not train",
        _set("registry_environment", "staging"),
        "registry_environment",
        ["trains: true"],
    ),
    (
        "bad schedule",
        _set("models.0.environments.dev.retraining.schedule", "every monday"),
        "models[0].environments.dev.retraining.schedule",
        ["'every monday'", "cron(", "rate("],
    ),
    (
        "bad log retention",
        _set("environments.0.log_retention_days", 45),
        "environments[0].log_retention_days",
        ["45", "allowed days", "30, 60"],
    ),
    (
        "autoscaling max below min",
        _set("models.0.environments.prod.serving.realtime.autoscaling.max_capacity", 1),
        "models[0].environments.prod.serving.realtime.autoscaling",
        ["max_capacity (1)", "min_capacity (2)"],
    ),
    (
        "serverless memory size",
        _set("models.0.environments.dev.serving.serverless.memory_size_mb", 1500),
        "models[0].environments.dev.serving.serverless.memory_size_mb",
        ["1500", "1024, 2048"],
    ),
    (
        "bad builder path",
        _set("models.0.training.builder", "pipeline_defs/training.py"),
        "models[0].training.builder",
        ["'pipeline_defs/training.py'", "package.module:function"],
    ),
    ("bad model name", _set("models.0.name", "Breast_Cancer"), "models[0].name", ["'Breast_Cancer'", "lowercase"]),
    ("bad S3 prefix", _set("models.0.data_prefix", "/data"), "models[0].data_prefix", ["'/data'", "no leading slash"]),
    (
        "pinned package is not an ARN",
        _set("models.0.environments.prod.serving.model_package_arn", "latest"),
        "models[0].environments.prod.serving.model_package_arn",
        ["'latest'", "model-package/<group>/<version>"],
    ),
    (
        "missing required field",
        lambda raw: raw["environments"][0].pop("account"),
        "environments[0].account",
        ["required"],
    ),
    (
        "bad email",
        _set("environments.0.notification_emails", ["ops-at-example.com"]),
        "environments[0].notification_emails[0]",
        ["'ops-at-example.com'", "name@example.com"],
    ),
    (
        "bad VPC subnet",
        _set("environments.2.vpc", {"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-0123456789abcdef0"]}),
        "environments[2].vpc.subnet_ids",
        ["'subnet-1'", "subnet-"],
    ),
]


@pytest.mark.parametrize(("what", "change", "field", "words"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_names_file_field_value_and_allowed(what: str, change: Any, field: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_mutated(change), source=SOURCE)
    message = str(caught.value)
    assert f"{SOURCE}: {field}" in message, message
    for word in words:
        assert word in message, f"{what}: {word!r} not in {message}"


def test_every_mistake_is_reported_at_once() -> None:
    def two_mistakes(raw: dict[str, Any]) -> None:
        raw["environments"][0]["account"] = "x"
        raw["environments"][1]["region"] = "nowhere"

    with pytest.raises(ConfigError) as caught:
        parse_config(_mutated(two_mistakes), source=SOURCE)
    assert "environments[0].account" in str(caught.value)
    assert "environments[1].region" in str(caught.value)


def test_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "platform.yaml"
    bad.write_text("environments: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{bad}: not valid YAML"):
        load_config(bad)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_config(["a"], source=SOURCE)


def test_a_second_model_is_one_more_entry(tmp_path: Path) -> None:
    raw = raw_default_config()
    raw["models"].append({"name": "churn", "training": {"builder": "my_models.churn:build"}})
    config = parse_config(raw, source=SOURCE)
    assert [m.name for m in config.models] == ["breast-cancer", "diabetes", "churn"]
    assert config.models[2].in_environment("prod").serving.mode == "serverless"


ARN = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3"


def test_approved_models_file(tmp_path: Path, default_config: Any) -> None:
    path = tmp_path / "approved.json"
    path.write_text(f'{{"staging": {{"breast-cancer": "{ARN}"}}}}', encoding="utf-8")
    approved = load_approved_models(path, default_config)
    assert served_package(default_config, approved, "staging", "breast-cancer") == ARN
    assert served_package(default_config, approved, "prod", "breast-cancer") is None
    assert load_approved_models(tmp_path / "missing.json", default_config) == {}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"qa": {}}', ["qa: not an environment", "dev, prod, staging"]),
        ('{"prod": {"fraud": "x"}}', ["prod.fraud: not a model", "breast-cancer"]),
        (
            '{"prod": {"breast-cancer": "latest"}}',
            ["prod.breast-cancer: 'latest' is not a versioned model package ARN"],
        ),
        ("[1]", ["expected {environment"]),
        ("{", ["not readable JSON"]),
    ],
)
def test_bad_approved_models_file(tmp_path: Path, default_config: Any, content: str, words: list[str]) -> None:
    path = tmp_path / "approved.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_approved_models(path, default_config)
    for word in words:
        assert word in str(caught.value)
    assert str(path) in str(caught.value)


def test_config_pin_wins_over_resolver(default_config: Any) -> None:
    raw = raw_default_config()
    pinned = ARN.replace("/3", "/1")
    raw["models"][0]["environments"]["prod"]["serving"]["model_package_arn"] = pinned
    config = parse_config(raw, source=SOURCE)
    assert served_package(config, {"prod": {"breast-cancer": ARN}}, "prod", "breast-cancer") == pinned


def test_the_loader_reads_the_shipped_file_as_written(default_config: Any) -> None:
    """What ``load_config`` returns is exactly the validated content of the file (not PyYAML's behaviour)."""
    assert default_config == parse_config(yaml.safe_load(DEFAULT_CONFIG.read_bytes()), source=SOURCE)
    assert (default_config.project, default_config.registry_environment) == ("mlops", "dev")
