"""Each pre-flight check against botocore Stubbers: every pass, fail and cannot-tell case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from preflight import checks
from preflight.plan import Plan, plan_for
from tests.preflight.conftest import StubbedSession

ACCOUNT = "222222222222"
TOOLING = "444444444444"
PLAN = Plan(environment="staging", account=ACCOUNT, region="eu-west-1", models=1)


def _error(stub: Any, method: str, code: str, message: str = "no", status: int = 400) -> None:
    stub.add_client_error(method, service_error_code=code, service_message=message, http_status_code=status)


# --- credentials ---


def test_identity_passes_for_the_environments_account(aws: StubbedSession) -> None:
    aws.stub("sts").add_response(
        "get_caller_identity",
        {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/deployer", "UserId": "AIDAEXAMPLE"},
    )
    assert checks.identity(aws.client, PLAN).status == "pass"


def test_identity_fails_for_another_account(aws: StubbedSession) -> None:
    aws.stub("sts").add_response("get_caller_identity", {"Account": "999999999999"})
    result = checks.identity(aws.client, PLAN)
    assert result.status == "fail"
    assert "999999999999" in result.detail and ACCOUNT in result.fix


# --- bootstrap ---


def _bootstrap(aws: StubbedSession, value: str) -> None:
    aws.stub("ssm").add_response(
        "get_parameter",
        {"Parameter": {"Name": "/cdk-bootstrap/hnb659fds/version", "Value": value}},
        {"Name": "/cdk-bootstrap/hnb659fds/version"},
    )


def test_bootstrap_version_passes_at_a_modern_version(aws: StubbedSession) -> None:
    _bootstrap(aws, "30")
    assert checks.bootstrap_version(aws.client, PLAN).status == "pass"


def test_bootstrap_version_fails_below_the_minimum(aws: StubbedSession) -> None:
    _bootstrap(aws, "5")
    result = checks.bootstrap_version(aws.client, PLAN)
    assert result.status == "fail"
    assert f"cdk bootstrap aws://{ACCOUNT}/eu-west-1" in result.fix


def test_bootstrap_version_fails_when_not_bootstrapped(aws: StubbedSession) -> None:
    _error(aws.stub("ssm"), "get_parameter", "ParameterNotFound")
    result = checks.bootstrap_version(aws.client, PLAN)
    assert result.status == "fail" and "not bootstrapped" in result.detail


def test_bootstrap_version_cannot_tell_when_denied(aws: StubbedSession) -> None:
    _error(aws.stub("ssm"), "get_parameter", "AccessDeniedException", status=403)
    result = checks.bootstrap_version(aws.client, PLAN)
    assert result.status == "cannot tell" and "ssm:GetParameter" in result.fix


def test_minimum_bootstrap_version_is_what_the_templates_require() -> None:
    snapshot = Path(__file__).resolve().parents[2] / "integ" / "integ_training.py.snapshot"
    template = json.loads((snapshot / "itrain-dev-Data.template.json").read_text(encoding="utf-8"))
    rule = template["Rules"]["CheckBootstrapVersion"]["Assertions"][0]["Assert"]["Fn::Not"][0]["Fn::Contains"]
    refused = [int(v) for v in rule[0]]
    assert max(refused) + 1 == checks.MIN_BOOTSTRAP_VERSION


# --- trust of the tooling account ---


def _role(aws: StubbedSession, kind: str, principals: list[str] | None) -> None:
    name = f"cdk-hnb659fds-{kind}-role-{ACCOUNT}-eu-west-1"
    if principals is None:
        _error(aws.stub("iam"), "get_role", "NoSuchEntity", status=404)
        return
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}],
    }
    aws.stub("iam").add_response(
        "get_role",
        {
            "Role": {
                "Path": "/",
                "RoleName": name,
                "RoleId": "AROAEXAMPLEEXAMPLE1",
                "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
                "CreateDate": "2026-01-01T00:00:00Z",
                "AssumeRolePolicyDocument": json.dumps(document),
            }
        },
        {"RoleName": name},
    )


def test_trust_passes_when_every_bootstrap_role_trusts_tooling(aws: StubbedSession) -> None:
    for kind in checks.TRUSTED_ROLES:
        _role(aws, kind, [f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{TOOLING}:root"])
    assert checks.tooling_trust(aws.client, PLAN, TOOLING).status == "pass"


def test_trust_fails_naming_the_role_that_does_not_trust_tooling(aws: StubbedSession) -> None:
    _role(aws, "deploy", [f"arn:aws:iam::{TOOLING}:root"])
    _role(aws, "file-publishing", [f"arn:aws:iam::{ACCOUNT}:root"])
    _role(aws, "image-publishing", None)
    result = checks.tooling_trust(aws.client, PLAN, TOOLING)
    assert result.status == "fail"
    assert "file-publishing-role" in result.detail and "image-publishing-role" in result.detail
    assert "deploy-role" not in result.detail
    assert f"--trust {TOOLING}" in result.fix


def test_trust_passes_without_a_tooling_account(aws: StubbedSession) -> None:
    assert checks.tooling_trust(aws.client, PLAN, None).status == "pass"


# --- SageMaker quotas ---


def _quotas(aws: StubbedSession, service: str, applied: dict[str, float], defaults: dict[str, float]) -> None:
    stub = aws.stub("service-quotas")
    for method, quotas in (("list_service_quotas", applied), ("list_aws_default_service_quotas", defaults)):
        stub.add_response(
            method,
            {"Quotas": [{"ServiceCode": service, "QuotaName": n, "Value": v} for n, v in quotas.items()]},
            {"ServiceCode": service},
        )


def test_plan_doubles_the_realtime_fleet_for_blue_green(default_config: Any) -> None:
    plan = plan_for(default_config, "prod")
    # prod: ml.m5.large, breast-cancer autoscaling up to 6 and diabetes up to 4: each green fleet comes up next to
    # its blue fleet, (6 + 4) * 2.
    assert plan.instances["endpoint", "ml.m5.large"] == 20
    assert plan.instances["transform job", "ml.m5.large"] == 1
    dev = plan_for(default_config, "dev")
    assert dev.serverless_endpoints == 2 and dev.serverless_concurrency == 5 + 2
    assert dev.instances["training job", "ml.m5.xlarge"] == 1
    assert dev.instances["training job", "ml.m5.large"] == 1  # diabetes


def test_sagemaker_quotas_pass_when_they_cover_the_plan(aws: StubbedSession, default_config: Any) -> None:
    plan = plan_for(default_config, "prod")
    names = {f"{t} for {u} usage": 20.0 for (u, t) in plan.instances}
    _quotas(aws, "sagemaker", {}, names)
    results = list(checks.sagemaker_quotas(aws.client, plan))
    assert results and {r.status for r in results} == {"pass"}


def test_sagemaker_endpoint_quota_fails_below_the_doubled_fleet(aws: StubbedSession, default_config: Any) -> None:
    plan = plan_for(default_config, "prod")
    defaults = {f"{t} for {u} usage": 20.0 for (u, t) in plan.instances}
    # An applied value wins over the default: 8 instances cover a blue fleet but not blue + green (20).
    _quotas(aws, "sagemaker", {"ml.m5.large for endpoint usage": 8.0}, defaults)
    (failed,) = [r for r in checks.sagemaker_quotas(aws.client, plan) if r.status == "fail"]
    assert failed.check == "quota ml.m5.large for endpoint usage"
    assert "8 < 20 needed" in failed.detail and "Service Quotas" in failed.fix


def test_sagemaker_quota_cannot_tell_when_not_listed(aws: StubbedSession, default_config: Any) -> None:
    plan = plan_for(default_config, "staging")
    _quotas(aws, "sagemaker", {}, {})
    results = list(checks.sagemaker_quotas(aws.client, plan))
    assert results and {r.status for r in results} == {"cannot tell"}


def test_serverless_concurrency_fails_over_the_quota(aws: StubbedSession, default_config: Any) -> None:
    plan = plan_for(default_config, "dev")
    defaults = {f"{t} for {u} usage": 20.0 for (u, t) in plan.instances}
    defaults["Maximum total concurrency that can be allocated across all serverless endpoints"] = 4.0
    defaults["Maximum number of serverless endpoints"] = 50.0
    _quotas(aws, "sagemaker", {}, defaults)
    results = {r.check: r for r in checks.sagemaker_quotas(aws.client, plan)}
    assert results["quota serverless total concurrency"].status == "fail"
    assert "4 < 7 needed" in results["quota serverless total concurrency"].detail
    assert results["quota serverless endpoints"].status == "pass"


def test_sagemaker_quotas_cannot_tell_when_denied(aws: StubbedSession, default_config: Any) -> None:
    _error(aws.stub("service-quotas"), "list_service_quotas", "AccessDeniedException", status=403)
    (result,) = checks.sagemaker_quotas(aws.client, plan_for(default_config, "prod"))
    assert result.status == "cannot tell" and "ListServiceQuotas" in result.fix


# --- Lambda, EventBridge ---


def _lambda(aws: StubbedSession, unreserved: int) -> None:
    aws.stub("lambda").add_response(
        "get_account_settings",
        {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": unreserved}},
    )


def test_lambda_concurrency_passes(aws: StubbedSession) -> None:
    _lambda(aws, 1000)
    assert checks.lambda_concurrency(aws.client, PLAN).status == "pass"


def test_lambda_concurrency_fails_below_the_unreserved_minimum(aws: StubbedSession) -> None:
    _lambda(aws, 10)
    result = checks.lambda_concurrency(aws.client, PLAN)
    assert result.status == "fail" and "Concurrent executions" in result.fix


def _rules(aws: StubbedSession, existing: int, quota: float | None) -> None:
    aws.stub("events").add_response(
        "list_rules", {"Rules": [{"Name": f"r{i}"} for i in range(existing)]}, {"EventBusName": "default"}
    )
    _quotas(aws, "events", {}, {"Number of rules": quota} if quota else {})


def test_eventbridge_rules_pass_with_room(aws: StubbedSession) -> None:
    _rules(aws, 20, 300.0)
    assert checks.eventbridge_rules(aws.client, PLAN).status == "pass"


def test_eventbridge_rules_fail_near_the_quota(aws: StubbedSession) -> None:
    _rules(aws, 295, 300.0)
    result = checks.eventbridge_rules(aws.client, PLAN)
    assert result.status == "fail" and "295 existing" in result.detail


def test_eventbridge_rules_use_the_documented_default_without_a_listed_quota(aws: StubbedSession) -> None:
    _rules(aws, 295, None)
    result = checks.eventbridge_rules(aws.client, PLAN)
    assert result.status == "fail" and "of 300" in result.detail


def test_eventbridge_rules_default_is_lower_in_the_regions_aws_documents(aws: StubbedSession) -> None:
    _rules(aws, 95, None)
    result = checks.eventbridge_rules(aws.client, Plan(environment="x", account=ACCOUNT, region="eu-south-1", models=1))
    assert result.status == "fail" and "of 100" in result.detail


# --- Model Monitor ---

MONITORED = Plan(environment="prod", account=ACCOUNT, region="eu-west-1", model_monitor=True)


def test_model_monitor_is_not_checked_when_unused(aws: StubbedSession) -> None:
    assert checks.model_monitor(aws.client, PLAN) is None


def test_model_monitor_passes_when_the_account_already_uses_it(aws: StubbedSession) -> None:
    stub = aws.stub("sagemaker")
    stub.add_response(
        "list_monitoring_schedules",
        {
            "MonitoringScheduleSummaries": [
                {
                    "MonitoringScheduleName": "s",
                    "MonitoringScheduleArn": f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:monitoring-schedule/s",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "LastModifiedTime": "2026-01-01T00:00:00Z",
                    "MonitoringScheduleStatus": "Scheduled",
                }
            ]
        },
        {"MaxResults": 1},
    )
    stub.add_response("list_data_quality_job_definitions", {"JobDefinitionSummaries": []}, {"MaxResults": 1})
    result = checks.model_monitor(aws.client, MONITORED)
    assert result is not None and result.status == "pass"


def test_model_monitor_cannot_tell_on_a_fresh_account(aws: StubbedSession) -> None:
    stub = aws.stub("sagemaker")
    stub.add_response("list_monitoring_schedules", {"MonitoringScheduleSummaries": []}, {"MaxResults": 1})
    stub.add_response("list_data_quality_job_definitions", {"JobDefinitionSummaries": []}, {"MaxResults": 1})
    result = checks.model_monitor(aws.client, MONITORED)
    assert result is not None and result.status == "cannot tell" and "open" in result.fix


# --- CodeConnections ---

CONNECTION = f"arn:aws:codeconnections:eu-west-1:{TOOLING}:connection/00000000-0000-0000-0000-000000000000"


def _connection(aws: StubbedSession, status: str) -> None:
    aws.stub("codeconnections").add_response(
        "get_connection",
        {"Connection": {"ConnectionName": "c", "ConnectionArn": CONNECTION, "ConnectionStatus": status}},
        {"ConnectionArn": CONNECTION},
    )


def test_connection_passes_when_available(aws: StubbedSession) -> None:
    _connection(aws, "AVAILABLE")
    assert checks.connection(aws.client, CONNECTION).status == "pass"


def test_connection_fails_while_pending(aws: StubbedSession) -> None:
    _connection(aws, "PENDING")
    result = checks.connection(aws.client, CONNECTION)
    assert result.status == "fail" and "Update pending connection" in result.fix


def test_connection_fails_when_missing(aws: StubbedSession) -> None:
    _error(aws.stub("codeconnections"), "get_connection", "ResourceNotFoundException", status=404)
    assert checks.connection(aws.client, CONNECTION).status == "fail"


# --- notification e-mails ---

EMAILS = Plan(
    environment="staging", account=ACCOUNT, region="eu-west-1", notification_emails=("a@example.com", "b@example.com")
)
TOPIC = f"arn:aws:sns:eu-west-1:{ACCOUNT}:mlops-staging-data-Notifications-ABC"


def _topic(aws: StubbedSession, subscriptions: dict[str, str]) -> None:
    aws.stub("cloudformation").add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "Notifications1234",
                    "PhysicalResourceId": TOPIC,
                    "ResourceType": "AWS::SNS::Topic",
                    "LastUpdatedTimestamp": "2026-01-01T00:00:00Z",
                    "ResourceStatus": "CREATE_COMPLETE",
                }
            ]
        },
        {"StackName": "mlops-staging-data"},
    )
    aws.stub("sns").add_response(
        "list_subscriptions_by_topic",
        {
            "Subscriptions": [
                {"SubscriptionArn": arn, "Protocol": "email", "Endpoint": email, "TopicArn": TOPIC}
                for email, arn in subscriptions.items()
            ]
        },
        {"TopicArn": TOPIC},
    )


def test_emails_pass_when_confirmed(aws: StubbedSession) -> None:
    _topic(aws, {"a@example.com": f"{TOPIC}:1", "b@example.com": f"{TOPIC}:2"})
    assert checks.email_subscriptions(aws.client, EMAILS, "mlops-staging-data").status == "pass"


def test_emails_fail_while_pending_or_missing(aws: StubbedSession) -> None:
    _topic(aws, {"a@example.com": "PendingConfirmation"})
    result = checks.email_subscriptions(aws.client, EMAILS, "mlops-staging-data")
    assert result.status == "fail"
    assert "pending: a@example.com" in result.detail and "not subscribed: b@example.com" in result.detail
    assert "Subscription Confirmation" in result.fix


def test_emails_cannot_tell_before_the_data_stack_exists(aws: StubbedSession) -> None:
    _error(aws.stub("cloudformation"), "list_stack_resources", "ValidationError", "Stack with id x does not exist")
    result = checks.email_subscriptions(aws.client, EMAILS, "mlops-staging-data")
    assert result.status == "cannot tell"


@pytest.mark.parametrize("plan", [PLAN])
def test_no_emails_configured_passes_without_calls(aws: StubbedSession, plan: Plan) -> None:
    assert checks.email_subscriptions(aws.client, plan, "mlops-staging-data").status == "pass"
