"""``python -m preflight``: what it needs without credentials, and a whole report from stubbed AWS."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from preflight import checks
from preflight.__main__ import main
from preflight.plan import plan_for
from tests.preflight.conftest import StubbedSession

STAGING = "222222222222"
TOOLING = "444444444444"


def test_without_credentials_it_says_what_it_needs_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession(credentials=False)
    assert main(["--env", "staging"], session_factory=lambda region: session) == 2
    err = capsys.readouterr().err
    assert "needs AWS credentials of the account it checks (account 222222222222, region eu-west-1)" in err
    assert "make preflight ENV=staging" in err and "sts:GetCallerIdentity" in err
    assert session.clients == {}


def test_an_unknown_environment_names_the_allowed_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--env", "qa"], session_factory=lambda region: StubbedSession()) == 2
    assert "allowed: dev, staging, prod, tooling" in capsys.readouterr().err


def _staging_account(session: StubbedSession, default_config: Any, *, endpoint_quota: float) -> None:
    session.stub("sts").add_response(
        "get_caller_identity",
        {"Account": STAGING, "Arn": f"arn:aws:iam::{STAGING}:user/deployer", "UserId": "AIDAEXAMPLE"},
    )
    session.stub("ssm").add_response("get_parameter", {"Parameter": {"Value": "30"}})
    for kind in checks.TRUSTED_ROLES:
        name = f"cdk-hnb659fds-{kind}-role-{STAGING}-eu-west-1"
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{TOOLING}:root"}}]}
        session.stub("iam").add_response(
            "get_role",
            {
                "Role": {
                    "Path": "/",
                    "RoleName": name,
                    "RoleId": "AROAEXAMPLEEXAMPLE1",
                    "Arn": f"arn:aws:iam::{STAGING}:role/{name}",
                    "CreateDate": "2026-01-01T00:00:00Z",
                    "AssumeRolePolicyDocument": json.dumps(trust),
                }
            },
        )
    quotas = {f"{t} for {u} usage": 20.0 for (u, t) in plan_for(default_config, "staging").instances}
    quotas["ml.m5.large for endpoint usage"] = endpoint_quota
    service_quotas = session.stub("service-quotas")
    service_quotas.add_response("list_service_quotas", {"Quotas": []})
    service_quotas.add_response(
        "list_aws_default_service_quotas",
        {"Quotas": [{"QuotaName": n, "Value": v} for n, v in quotas.items()]},
    )
    session.stub("lambda").add_response(
        "get_account_settings", {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}}
    )
    session.stub("events").add_response("list_rules", {"Rules": []})
    service_quotas.add_response("list_service_quotas", {"Quotas": []})
    service_quotas.add_response("list_aws_default_service_quotas", {"Quotas": []})


def test_a_whole_report_passes_for_an_account_that_can_hold_staging(default_config: Any) -> None:
    session = StubbedSession()
    _staging_account(session, default_config, endpoint_quota=4)
    out = io.StringIO()
    assert main(["--env", "staging"], session_factory=lambda region: session, out=out) == 0
    report = out.getvalue()
    assert "PASS         bootstrap version: version 30 (>= 6)" in report
    assert "PASS         quota ml.m5.large for endpoint usage: 4 >= 4 needed" in report
    assert report.endswith("nothing failed\n")
    session.assert_all_called()


def test_a_whole_report_fails_with_the_fix_when_the_doubled_fleet_does_not_fit(default_config: Any) -> None:
    session = StubbedSession()
    _staging_account(session, default_config, endpoint_quota=2)
    out = io.StringIO()
    assert main(["--env", "staging"], session_factory=lambda region: session, out=out) == 1
    report = out.getvalue()
    assert "FAIL         quota ml.m5.large for endpoint usage: 2 < 4 needed" in report
    assert "fix: request an increase in Service Quotas" in report
    assert report.endswith("1 failed\n")


def test_tooling_checks_the_connection() -> None:
    session = StubbedSession()
    session.stub("codeconnections").add_response("get_connection", {"Connection": {"ConnectionStatus": "PENDING"}})
    out = io.StringIO()
    assert main(["--env", "tooling"], session_factory=lambda region: session, out=out) == 1
    assert "FAIL         CodeConnections connection: status PENDING" in out.getvalue()


def test_the_real_boto3_session_without_credentials_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["--env", "prod"]) == 2
    assert "account 333333333333, region eu-west-1" in capsys.readouterr().err
