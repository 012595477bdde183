"""The tooling (CI/CD) section: the shipped placeholder validates, and each mistake fails with a clear error."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, parse_config
from tests.conftest import raw_default_config

SOURCE = Path("config/platform.yaml")
UUID = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


def _with_tooling(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(raw_default_config())
    raw["tooling"].update(changes)
    return raw


def test_shipped_tooling_is_a_documented_placeholder_that_enables_the_pipeline(default_config: Any) -> None:
    tooling = default_config.tooling
    assert tooling.account == "444444444444" and tooling.region == "eu-west-1"
    assert tooling.connection_arn == (
        "arn:aws:codeconnections:eu-west-1:444444444444:connection/00000000-0000-0000-0000-000000000000"
    )
    assert (tooling.repository, tooling.branch, tooling.notification_emails) == (
        "my-org/sagemaker-mlops-cdk",
        "main",
        (),
    )


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:codeconnections:us-east-1:123456789012:connection/{UUID}",
        f"arn:aws:codestar-connections:eu-central-1:123456789012:connection/{UUID}",
    ],
)
def test_both_connection_arn_services_are_accepted(arn: str) -> None:
    assert parse_config(_with_tooling(connection_arn=arn), source=SOURCE).tooling.connection_arn == arn  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:codecommit:eu-west-1:444444444444:my-repo",
        "arn:aws:codeconnections:eu-west-1:4444:connection/" + UUID,
        "arn:aws:codeconnections:eu-west-1:444444444444:connection/not-a-uuid",
    ],
)
def test_a_bad_connection_arn_names_the_field_the_value_and_the_allowed_form(arn: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(_with_tooling(connection_arn=arn), source=SOURCE)
    message = str(error.value)
    assert "config/platform.yaml" in message and "tooling.connection_arn" in message
    assert arn in message and "arn:aws:codeconnections:<region>:<account>:connection/<uuid>" in message


def test_repository_must_be_owner_slash_name() -> None:
    with pytest.raises(ConfigError, match=r"tooling\.repository"):
        parse_config(_with_tooling(repository="just-a-name"), source=SOURCE)


def test_notification_emails_are_validated() -> None:
    config = parse_config(_with_tooling(notification_emails=["ml-team@example.com"]), source=SOURCE)
    assert config.tooling is not None and config.tooling.notification_emails == ("ml-team@example.com",)
    with pytest.raises(ConfigError, match=r"tooling\.notification_emails"):
        parse_config(_with_tooling(notification_emails=["not-an-email"]), source=SOURCE)


def test_unknown_tooling_keys_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"tooling: unknown key\(s\) 'pipeline_name'"):
        parse_config(_with_tooling(pipeline_name="x"), source=SOURCE)


def test_tooling_is_optional_and_connection_arn_too() -> None:
    raw = copy.deepcopy(raw_default_config())
    del raw["tooling"]
    assert parse_config(raw, source=SOURCE).tooling is None
    raw = copy.deepcopy(raw_default_config())
    del raw["tooling"]["connection_arn"]
    tooling = parse_config(raw, source=SOURCE).tooling
    assert tooling is not None and tooling.connection_arn is None
