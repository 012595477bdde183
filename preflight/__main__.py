"""``python -m preflight --env NAME``: run every check with the environment's credentials and print the report.

Exit status: 0 when nothing failed ("cannot tell" is reported, not failed), 1 when a check failed, 2 when
there are no credentials or the configuration is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from mlops_config import ConfigError, PlatformConfig, load_config
from mlops_constructs import naming
from preflight import checks
from preflight.plan import plan_for

REPO = Path(__file__).resolve().parent.parent
TOOLING = "tooling"
NEEDS = (
    "preflight needs AWS credentials of the account it checks ({who}), e.g. AWS_PROFILE=<profile> make preflight "
    "ENV={env}. It only reads: sts:GetCallerIdentity, ssm:GetParameter (/cdk-bootstrap/*), iam:GetRole (cdk-*), "
    "servicequotas:ListServiceQuotas and ListAWSDefaultServiceQuotas, lambda:GetAccountSettings, events:ListRules, "
    "sagemaker:ListMonitoringSchedules and ListDataQualityJobDefinitions, cloudformation:ListStackResources, "
    "sns:ListSubscriptionsByTopic, codeconnections:GetConnection."
)


def qualifier(repo: Path = REPO) -> str:
    """The bootstrap qualifier: cdk.json's ``@aws-cdk/core:bootstrapQualifier``, else CDK's default."""
    context = json.loads((repo / "cdk.json").read_text(encoding="utf-8")).get("context", {})
    return str(context.get("@aws-cdk/core:bootstrapQualifier", checks.DEFAULT_QUALIFIER))


def run_checks(
    clients: checks.ClientFactory, config: PlatformConfig, env: str, *, bootstrap_qualifier: str
) -> list[checks.Result]:
    """Every check that applies to ``env`` (an environment name, or ``tooling``)."""
    if env == TOOLING:
        assert config.tooling is not None
        return [checks.connection(clients, config.tooling.connection_arn)]
    plan = plan_for(config, env)
    results = [checks.identity(clients, plan)]
    if results[0].status != "pass":
        return results
    results.append(checks.bootstrap_version(clients, plan, bootstrap_qualifier))
    tooling = config.tooling.account if config.tooling else None
    results.append(checks.tooling_trust(clients, plan, tooling, bootstrap_qualifier))
    results.extend(checks.sagemaker_quotas(clients, plan))
    results.append(checks.lambda_concurrency(clients, plan))
    results.append(checks.eventbridge_rules(clients, plan))
    monitor = checks.model_monitor(clients, plan)
    if monitor is not None:
        results.append(monitor)
    results.append(checks.email_subscriptions(clients, plan, naming.stack_name(config.project, env, "data")))
    return results


def report(results: Iterable[checks.Result], out: TextIO) -> int:
    """Print one line per check (and the fix under each failure); the exit status."""
    failed = 0
    for result in results:
        out.write(f"{result.status.upper():<12} {result.check}: {result.detail}\n")
        if result.fix and result.status != "pass":
            out.write(f"{'':<12} fix: {result.fix}\n")
        failed += result.status == "fail"
    out.write(f"{failed} failed\n" if failed else "nothing failed\n")
    return 1 if failed else 0


def main(
    argv: Sequence[str] | None = None,
    *,
    session_factory: Callable[[str], Any] | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """CLI entry point; ``session_factory(region)`` returns a boto3-like session (tests pass stubbed clients)."""
    parser = argparse.ArgumentParser(prog="python -m preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help=f"an environment of the configuration, or {TOOLING!r}")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "platform.yaml")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = [env.name for env in config.environments]
    if args.env == TOOLING and config.tooling is not None:
        account, region = config.tooling.account, config.tooling.region
    elif args.env in names:
        environment = config.environment(args.env)
        account, region = environment.account, environment.region
    else:
        allowed = ", ".join(names + ([TOOLING] if config.tooling else []))
        print(f"error: {args.config}: ENV={args.env} is not an environment; allowed: {allowed}", file=sys.stderr)
        return 2
    if session_factory is None:
        import boto3

        def session_factory(region_name: str) -> Any:
            return boto3.Session(region_name=region_name)

    session = session_factory(region)
    if session.get_credentials() is None:
        print(NEEDS.format(who=f"account {account}, region {region}", env=args.env), file=sys.stderr)
        return 2
    out.write(f"pre-flight of {args.env} (account {account}, {region}); read-only\n")

    def clients(service: str) -> Any:
        return session.client(service, region_name=region)

    return report(run_checks(clients, config, args.env, bootstrap_qualifier=qualifier()), out)


if __name__ == "__main__":
    sys.exit(main())
