"""Both sides of the identifier patterns and the cross-reference rules of ``mlops_config/platform.py``'s validators,
which mutmut leaves alone (it does not mutate decorated functions); each test kills a hand mutation that the
configuration tests let live."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, PlatformConfig, parse_config
from tests.conftest import raw_default_config

PREFIX = "invalid configuration\n  platform.yaml: "
CONNECTION = "arn:aws:codeconnections:eu-west-1:444444444444:connection/"


def _raw() -> dict[str, Any]:
    return copy.deepcopy(raw_default_config())


def _parse(raw: dict[str, Any]) -> PlatformConfig:
    return parse_config(raw, source=Path("platform.yaml"))


def _refusal(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        _parse(raw)
    return str(caught.value)


def _with_vpc(subnet: str, group: str) -> dict[str, Any]:
    raw = _raw()
    raw["environments"][1]["vpc"] = {"subnet_ids": [subnet], "security_group_ids": [group]}
    return raw


def test_subnet_and_security_group_ids_of_8_and_17_hex_digits_pass() -> None:
    for digits in (8, 17):
        vpc = _parse(_with_vpc("subnet-" + "a" * digits, "sg-" + "b" * digits)).environments[1].vpc
        assert vpc is not None and vpc.subnet_ids == ("subnet-" + "a" * digits,)
        assert vpc.security_group_ids == ("sg-" + "b" * digits,)


def test_subnet_and_security_group_ids_outside_8_to_17_hex_digits_are_refused() -> None:
    for digits in (7, 18):
        assert _refusal(_with_vpc("subnet-" + "a" * digits, "sg-12345678")) == (
            f"{PREFIX}environments[1].vpc.subnet_ids: 'subnet-{'a' * digits}' is not a subnet ID; allowed: subnet- "
            "followed by 8-17 hex digits"
        )
        assert _refusal(_with_vpc("subnet-12345678", "sg-" + "b" * digits)) == (
            f"{PREFIX}environments[1].vpc.security_group_ids: 'sg-{'b' * digits}' is not a security group ID; "
            "allowed: sg- followed by 8-17 hex digits"
        )


def test_manual_approval_overrides_the_production_default() -> None:
    raw = _raw()
    raw["environments"][1]["manual_approval"] = True  # staging: not production
    raw["environments"][2]["manual_approval"] = False  # prod: production
    config = _parse(raw)
    assert [env.needs_manual_approval for env in config.environments] == [False, True, False]


def test_a_repository_is_exactly_owner_and_name() -> None:
    raw = _raw()
    raw["tooling"]["repository"] = "my-org/team/sagemaker-mlops-cdk"
    assert _refusal(raw) == (
        f"{PREFIX}tooling.repository: 'my-org/team/sagemaker-mlops-cdk' is not a repository; allowed: 'owner/name' "
        "of ASCII letters, digits, _ . -"
    )


def test_a_connection_id_is_a_whole_uuid() -> None:
    raw = _raw()
    raw["tooling"]["connection_arn"] = CONNECTION + "0" * 35
    assert _refusal(raw) == (
        f"{PREFIX}tooling.connection_arn: '{CONNECTION}{'0' * 35}' is not a CodeConnections ARN; allowed: "
        "arn:aws:codeconnections:<region>:<account>:connection/<uuid>"
    )


def test_a_permissions_boundary_name_may_have_up_to_128_characters() -> None:
    raw = _raw()
    raw["permissions_boundary"] = "b" * 128
    assert _parse(raw).permissions_boundary_name == "b" * 128
    raw["permissions_boundary"] = "b" * 129
    assert _refusal(raw) == (
        f"{PREFIX}permissions_boundary: '{'b' * 129}' is not an IAM policy name; allowed: 1-128 letters, digits and "
        "+ = , . @ _ - (a name, not an ARN: the policy is looked up in each environment's own account)"
    )


def test_one_account_and_region_per_environment_whole_message() -> None:
    raw = _raw()
    raw["environments"][2]["account"] = "222222222222"
    assert _refusal(raw) == (
        f"{PREFIX}environments[2]: account 222222222222 in eu-west-1 is already used by environment 'staging'; "
        "allowed: one account and region per environment"
    )


def test_an_account_shared_by_two_environments_is_one_consumer() -> None:
    raw = _raw()
    raw["environments"][2].update(account="222222222222", region="us-east-1")
    assert _parse(raw).consumer_accounts() == ("222222222222",)
