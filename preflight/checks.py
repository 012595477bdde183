"""The checks: each reads one thing from AWS and says pass, fail (with the fix) or cannot tell.

Clients come from a ``ClientFactory`` (``boto3.Session.client`` in use, botocore Stubbers in tests). A check
whose read is denied says ``cannot tell`` and names the permission, rather than guessing.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

from botocore.exceptions import ClientError

from preflight.plan import Plan

Status = Literal["pass", "fail", "cannot tell"]
ClientFactory = Callable[[str], Any]

# Every CDK v2 template carries the rule CheckBootstrapVersion, which refuses bootstrap versions 1-5 (see the
# synthesized templates' "Rules"; tests/preflight ties this constant to them). "Bootstrapping your environment
# for use with the AWS CDK": the version is the SSM parameter /cdk-bootstrap/<qualifier>/version.
MIN_BOOTSTRAP_VERSION: Final = 6
DEFAULT_QUALIFIER: Final = "hnb659fds"
# The roles `cdk bootstrap --trust <account>` lets the trusted account assume (the pipeline deploys through them).
TRUSTED_ROLES: Final = ("deploy", "file-publishing", "image-publishing")
# "Configuring reserved concurrency for a function": Lambda keeps at least 100 concurrent executions unreserved.
MIN_UNRESERVED_CONCURRENCY: Final = 100
# "Amazon EventBridge quotas": "Number of rules" per event bus per account, 300 by default, 100 in af-south-1 and
# eu-south-1 (adjustable); used when Service Quotas has no value. Upper estimate of the rules one model adds to
# the default bus of an environment (retraining, endpoint and pipeline events, batch windows), from the
# synthesized templates.
DEFAULT_RULES_PER_BUS: Final = 300
DEFAULT_RULES_PER_BUS_BY_REGION: Final = {"af-south-1": 100, "eu-south-1": 100}
RULES_PER_MODEL_ESTIMATE: Final = 10


@dataclass(frozen=True)
class Result:
    """One check's outcome; ``fix`` says what to do when it failed (or how to find out)."""

    check: str
    status: Status
    detail: str
    fix: str = ""


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _denied(check: str, error: ClientError, permission: str) -> Result:
    return Result(check, "cannot tell", f"{_code(error)}: {error}", f"allow {permission} for these credentials")


def identity(clients: ClientFactory, plan: Plan) -> Result:
    """The credentials belong to the environment's account."""
    account = clients("sts").get_caller_identity()["Account"]
    if account == plan.account:
        return Result("credentials", "pass", f"account {account}")
    return Result(
        "credentials",
        "fail",
        f"credentials are for account {account}, environment {plan.environment} is {plan.account}",
        f"use credentials of account {plan.account} (e.g. AWS_PROFILE=<its profile> make preflight ENV=...)",
    )


def bootstrap_version(clients: ClientFactory, plan: Plan, qualifier: str = DEFAULT_QUALIFIER) -> Result:
    """The account and Region are bootstrapped, with a version every template here accepts."""
    check = "bootstrap version"
    parameter = f"/cdk-bootstrap/{qualifier}/version"
    fix = f"npx cdk bootstrap aws://{plan.account}/{plan.region} (docs/cicd.md gives the full command with --trust)"
    try:
        value = clients("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as error:
        if _code(error) == "ParameterNotFound":
            return Result(check, "fail", f"{parameter} not found: not bootstrapped", fix)
        return _denied(check, error, f"ssm:GetParameter on {parameter}")
    if not str(value).isdigit():
        return Result(check, "cannot tell", f"{parameter} = {value!r} is not a version number", fix)
    if int(value) < MIN_BOOTSTRAP_VERSION:
        return Result(check, "fail", f"version {value} < {MIN_BOOTSTRAP_VERSION}", fix)
    return Result(check, "pass", f"version {value} (>= {MIN_BOOTSTRAP_VERSION})")


def _trust_document(role: dict[str, Any]) -> dict[str, Any]:
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):  # IAM returns it URL-encoded; boto3 usually decodes it already
        document = json.loads(urllib.parse.unquote(document))
    return dict(document)


def _trusted_accounts(document: dict[str, Any]) -> set[str]:
    accounts: set[str] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        principals = statement.get("Principal", {})
        aws = principals.get("AWS", []) if isinstance(principals, dict) else []
        for principal in [aws] if isinstance(aws, str) else aws:
            accounts.add(principal.split(":")[4] if principal.startswith("arn:") else principal)
    return accounts


def tooling_trust(
    clients: ClientFactory, plan: Plan, tooling_account: str | None, qualifier: str = DEFAULT_QUALIFIER
) -> Result:
    """The bootstrap roles the release pipeline assumes trust the tooling account (``cdk bootstrap --trust``)."""
    check = "trusts tooling account"
    if tooling_account is None:
        return Result(check, "pass", "no tooling section in the configuration: nothing to trust")
    if tooling_account == plan.account:
        return Result(check, "pass", "the tooling account is this account")
    iam = clients("iam")
    missing = []
    for kind in TRUSTED_ROLES:
        name = f"cdk-{qualifier}-{kind}-role-{plan.account}-{plan.region}"
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except ClientError as error:
            if _code(error) == "NoSuchEntity":
                missing.append(f"{name} (missing)")
                continue
            return _denied(check, error, f"iam:GetRole on {name}")
        if tooling_account not in _trusted_accounts(_trust_document(role)):
            missing.append(name)
    if missing:
        return Result(
            check,
            "fail",
            f"not trusting {tooling_account}: {', '.join(missing)}",
            f"npx cdk bootstrap aws://{plan.account}/{plan.region} --trust {tooling_account} "
            "--cloudformation-execution-policies <policy ARN> (docs/cicd.md)",
        )
    return Result(check, "pass", f"{', '.join(TRUSTED_ROLES)} roles trust {tooling_account}")


def _quotas(clients: ClientFactory, service: str) -> tuple[dict[str, float], dict[str, float]]:
    """Applied and default quota values of ``service`` by name (ListServiceQuotas lists applied values only)."""
    client = clients("service-quotas")
    applied: dict[str, float] = {}
    defaults: dict[str, float] = {}
    for operation, into in (("list_service_quotas", applied), ("list_aws_default_service_quotas", defaults)):
        token: str | None = None
        while True:
            page = getattr(client, operation)(ServiceCode=service, **({"NextToken": token} if token else {}))
            for quota in page.get("Quotas", []):
                into[str(quota["QuotaName"])] = float(quota["Value"])
            token = page.get("NextToken")
            if not token:
                break
    return applied, defaults


def _named(name: str) -> Callable[[str], bool]:
    wanted = name.lower()
    return lambda quota: quota == wanted


def _quota(applied: dict[str, float], defaults: dict[str, float], matches: Callable[[str], bool]) -> float | None:
    for source in (applied, defaults):
        for name, value in source.items():
            if matches(name.lower()):
                return value
    return None


def sagemaker_quotas(clients: ClientFactory, plan: Plan) -> Iterator[Result]:
    """Instances per usage and type (blue/green doubled), and serverless concurrency, within the quotas."""
    try:
        applied, defaults = _quotas(clients, "sagemaker")
    except ClientError as error:
        yield _denied("SageMaker quotas", error, "servicequotas:ListServiceQuotas, ListAWSDefaultServiceQuotas")
        return
    fix_quota = "request an increase in Service Quotas > Amazon SageMaker > {name!r} (or lower the configuration)"
    for (usage, instance_type), needed in sorted(plan.instances.items()):
        name = f"{instance_type} for {usage} usage"
        check = f"quota {name}"
        value = _quota(applied, defaults, _named(name))
        if value is None:
            yield Result(check, "cannot tell", "no such quota listed", "check the Service Quotas console")
        elif value < needed:
            yield Result(check, "fail", f"{value:g} < {needed} needed", fix_quota.format(name=name))
        else:
            yield Result(check, "pass", f"{value:g} >= {needed} needed")
    if plan.serverless_endpoints:
        for label, needed, matches in (
            (
                "serverless total concurrency",
                plan.serverless_concurrency,
                lambda q: "total concurrency" in q and "serverless" in q,
            ),
            (
                "serverless endpoints",
                plan.serverless_endpoints,
                lambda q: "number of serverless endpoints" in q,
            ),
        ):
            value = _quota(applied, defaults, matches)
            check = f"quota {label}"
            if value is None:
                yield Result(check, "cannot tell", "no such quota listed", "check the Service Quotas console")
            elif value < needed:
                yield Result(
                    check,
                    "fail",
                    f"{value:g} < {needed} needed (sum of max_concurrency)"
                    if "concurrency" in label
                    else f"{value:g} < {needed} needed",
                    "request an increase in Service Quotas > Amazon SageMaker, or lower serverless.max_concurrency",
                )
            else:
                yield Result(check, "pass", f"{value:g} >= {needed} needed")


def lambda_concurrency(clients: ClientFactory, plan: Plan) -> Result:
    """The account leaves Lambda enough unreserved concurrency for the platform's functions."""
    check = "Lambda unreserved concurrency"
    try:
        limit = clients("lambda").get_account_settings()["AccountLimit"]
    except ClientError as error:
        return _denied(check, error, "lambda:GetAccountSettings")
    unreserved = int(limit["UnreservedConcurrentExecutions"])
    if unreserved < MIN_UNRESERVED_CONCURRENCY:
        return Result(
            check,
            "fail",
            f"{unreserved} unreserved of {limit['ConcurrentExecutions']} (< {MIN_UNRESERVED_CONCURRENCY})",
            "request an increase of Lambda 'Concurrent executions' in Service Quotas, or remove reserved concurrency",
        )
    return Result(check, "pass", f"{unreserved} unreserved (>= {MIN_UNRESERVED_CONCURRENCY})")


def eventbridge_rules(clients: ClientFactory, plan: Plan) -> Result:
    """Rules already on the default bus plus what this environment adds stay within the per-bus quota."""
    check = "EventBridge rules per bus"
    try:
        count = 0
        token: str | None = None
        events = clients("events")
        while True:
            page = events.list_rules(EventBusName="default", **({"NextToken": token} if token else {}))
            count += len(page.get("Rules", []))
            token = page.get("NextToken")
            if not token:
                break
    except ClientError as error:
        return _denied(check, error, "events:ListRules")
    try:
        applied, defaults = _quotas(clients, "events")
        quota = _quota(applied, defaults, lambda q: q == "number of rules" or "rules per event bus" in q)
    except ClientError:
        quota = None
    limit = (
        quota if quota is not None else float(DEFAULT_RULES_PER_BUS_BY_REGION.get(plan.region, DEFAULT_RULES_PER_BUS))
    )
    planned = plan.models * RULES_PER_MODEL_ESTIMATE
    detail = f"{count} existing + up to {planned} planned (estimate) of {limit:g}"
    if count + planned > limit:
        return Result(check, "fail", detail, "request an increase of 'Rules per event bus' or remove unused rules")
    return Result(check, "pass", detail)


def model_monitor(clients: ClientFactory, plan: Plan) -> Result | None:
    """Whether the account can use Model Monitor, when the configuration does (None when it does not).

    AWS closed Model Monitor to new customers and offers no read call that says whether an account may still
    create schedules: an account that already has schedules or job definitions passes; otherwise cannot tell.
    """
    if not plan.model_monitor:
        return None
    check = "Model Monitor available"
    sagemaker = clients("sagemaker")
    try:
        schedules = sagemaker.list_monitoring_schedules(MaxResults=1).get("MonitoringScheduleSummaries", [])
        definitions = sagemaker.list_data_quality_job_definitions(MaxResults=1).get("JobDefinitionSummaries", [])
    except ClientError as error:
        return _denied(check, error, "sagemaker:ListMonitoringSchedules, ListDataQualityJobDefinitions")
    if schedules or definitions:
        return Result(check, "pass", "the account already has Model Monitor schedules or job definitions")
    return Result(
        check,
        "cannot tell",
        "no schedules yet, and AWS has no read-only check for Model Monitor access",
        "ask AWS Support whether the account can use Model Monitor, "
        "or use monitoring backend 'open' (docs/monitoring.md)",
    )


def connection(clients: ClientFactory, connection_arn: str | None) -> Result:
    """The release pipeline's CodeConnections connection is AVAILABLE (run with the tooling account's credentials)."""
    check = "CodeConnections connection"
    if connection_arn is None:
        return Result(check, "pass", "no connection configured (no release pipeline)")
    try:
        status = clients("codeconnections").get_connection(ConnectionArn=connection_arn)["Connection"][
            "ConnectionStatus"
        ]
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return Result(check, "fail", f"{connection_arn} not found", "create the connection (docs/cicd.md)")
        return _denied(check, error, "codeconnections:GetConnection")
    if status == "AVAILABLE":
        return Result(check, "pass", "AVAILABLE")
    return Result(
        check,
        "fail",
        f"status {status}",
        "finish the handshake: Developer Tools console > Settings > Connections > Update pending connection",
    )


def _topic(clients: ClientFactory, check: str, data_stack: str) -> str | Result:
    """The notification topic of ``data_stack`` (CloudFormation names it), or why it cannot be found."""
    try:
        resources = clients("cloudformation").list_stack_resources(StackName=data_stack)["StackResourceSummaries"]
    except ClientError as error:
        if "does not exist" in str(error):
            return Result(check, "cannot tell", f"{data_stack} is not deployed yet", "re-run after the first deploy")
        return _denied(check, error, "cloudformation:ListStackResources")
    topics = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::SNS::Topic"]
    if not topics:
        return Result(check, "cannot tell", f"no topic in {data_stack}", "re-run after the data stack deployed")
    return str(topics[0])


def email_subscriptions(clients: ClientFactory, plan: Plan, data_stack: str) -> Result:
    """Each configured notification e-mail is subscribed and confirmed on the environment's topic."""
    check = "notification e-mails confirmed"
    if not plan.notification_emails:
        return Result(check, "pass", "no notification e-mails configured")
    topic = _topic(clients, check, data_stack)
    if isinstance(topic, Result):
        return topic
    try:
        subscriptions = clients("sns").list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", [])
    except ClientError as error:
        return _denied(check, error, "sns:ListSubscriptionsByTopic")
    by_email = {s["Endpoint"]: s["SubscriptionArn"] for s in subscriptions if s.get("Protocol") == "email"}
    pending = [e for e in plan.notification_emails if by_email.get(e) == "PendingConfirmation"]
    missing = [e for e in plan.notification_emails if e not in by_email]
    if pending or missing:
        detail = "; ".join(
            part
            for part in (
                f"pending: {', '.join(pending)}" if pending else "",
                f"not subscribed: {', '.join(missing)}" if missing else "",
            )
            if part
        )
        return Result(
            check,
            "fail",
            detail,
            "each address must click the link in the 'AWS Notification - Subscription Confirmation' e-mail "
            "(missing ones: redeploy the data stack)",
        )
    return Result(check, "pass", f"{len(plan.notification_emails)} confirmed")
