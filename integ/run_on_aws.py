"""``make integ``: deploy the integration tests to a sandbox account, read their assertions, destroy them.

Why not ``integ-runner --force``: the newest @aws-cdk/integ-runner (2.197.10, pinned) cannot read the cloud
assembly aws-cdk-lib 2.275 writes (schema 55; it reads up to 53), see integ/snapshots.py. This driver does
what integ-runner's deploy step does, with the project's CLI (aws-cdk 2.1148.1): ``cdk deploy`` of each test app
with ``--outputs-file``, then every ``AssertionResults*`` output of the assertion stack must not be
``{"status": "fail"}`` (integ-runner's ``processAssertionResults``); waiters (``wait_for_assertions``) that time
out fail the deployment itself. Scenarios whose phases share stacks run in order, then everything is destroyed,
also after a failure. When integ-runner reads schema 55, ``integ-runner --directory integ --language python
--force --parallel-regions <region>`` deploys the single-phase tests the same way.

    AWS_PROFILE=sandbox python integ/run_on_aws.py --region eu-west-1 [integ_training.py ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

INTEG_DIR = Path(__file__).resolve().parent
REPO = INTEG_DIR.parent


@dataclass(frozen=True)
class Step:
    """One deployment of a test app; ``fails`` names a stack whose update is expected to fail and roll back."""

    test: str
    assertion_stack: str
    fails: str | None = None


# Scenarios: each is deployed step by step into the same stacks, then destroyed.
SCENARIOS: dict[str, tuple[Step, ...]] = {
    "training": (Step("integ_training.py", "itrain-dev-Assertions"),),
    "serving": (
        Step("integ_serving.py", "iserve-integ-Assertions"),
        Step("integ_serving_rollout.py", "iserve-integ-Assertions"),
        Step("integ_serving_rollback.py", "iserve-integ-Saboteur", fails="iserve-integ-rt-model-serving"),
        # After the rollback: still version 2, still answering.
        Step("integ_serving_rollout.py", "iserve-integ-Assertions"),
    ),
    "monitoring": (Step("integ_monitoring.py", "imon-integ-Assertions"),),
    # Needs a second bootstrapped Region: INTEG_SECOND_REGION (default eu-central-1).
    "promotion": (Step("integ_promotion.py", "iprom-serve-Assertions"),),
}


def failed_assertions(outputs: dict[str, dict[str, str]], assertion_stack: str) -> list[str]:
    """The failed assertions among ``assertion_stack``'s outputs, as integ-runner reads them."""
    failures = []
    for key, value in outputs.get(assertion_stack, {}).items():
        if key.startswith("AssertionResults"):
            result = json.loads(value.replace("\n", "\\n"))
            if result.get("status") == "fail":
                failures.append(f"{key}: {result.get('message', '')}")
    return failures


def _cdk(args: Sequence[str], test: str, region: str, outdir: Path) -> int:
    env = {**os.environ, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    command = ["cdk", *args, "--app", f"{sys.executable} {test}", "--output", str(outdir), "--no-notices"]
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, cwd=INTEG_DIR, env=env, check=False).returncode


def run_scenario(name: str, steps: Sequence[Step], region: str) -> list[str]:
    """Deploy ``steps`` in order, check their assertions, destroy every app; the problems found."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix=f"integ-{name}-") as tmp:
        try:
            for index, step in enumerate(steps):
                outputs_file = Path(tmp) / f"outputs-{index}.json"
                code = _cdk(
                    [
                        "deploy",
                        "--all",
                        "--require-approval",
                        "never",
                        "--concurrency",
                        "2",
                        "--outputs-file",
                        str(outputs_file),
                    ],
                    step.test,
                    region,
                    Path(tmp) / f"cdk.out-{index}",
                )
                if step.fails is not None:
                    problems += _expect_rolled_back(step, region, code)
                elif code != 0:
                    problems.append(f"{step.test}: cdk deploy failed (exit {code})")
                outputs = json.loads(outputs_file.read_text()) if outputs_file.exists() else {}
                problems += [f"{step.test}: {failure}" for failure in failed_assertions(outputs, step.assertion_stack)]
                if problems:
                    break
        finally:
            # Every app of the scenario, last first: each destroys the stacks it knows; missing ones are skipped.
            for step in reversed(list({s.test: s for s in steps}.values())):
                if _cdk(["destroy", "--all", "--force"], step.test, region, Path(tmp) / "cdk.out-destroy") != 0:
                    problems.append(f"{step.test}: cdk destroy failed: delete its stacks by hand")
    return problems


def _expect_rolled_back(step: Step, region: str, code: int) -> list[str]:
    """The step's ``fails`` stack rolled its update back, and its assertion stack deployed (its waiters held)."""
    import boto3

    cloudformation = boto3.client("cloudformation", region_name=region)

    def status(stack: str) -> str:
        return str(cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])

    problems = []
    failed = status(str(step.fails))
    if code == 0 or failed != "UPDATE_ROLLBACK_COMPLETE":
        problems.append(f"{step.fails}: expected the update to fail and roll back; exit {code}, status {failed}")
    assertions = status(step.assertion_stack)
    if assertions not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        problems.append(f"{step.assertion_stack}: {assertions}; its assertions did not all hold")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: run the named scenarios (default all) in the account of the current credentials."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", required=True)
    parser.add_argument("scenarios", nargs="*", help=f"of {', '.join(SCENARIOS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; allowed: {', '.join(SCENARIOS)}")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        account = boto3.client("sts", region_name=args.region).get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        print(
            f"make integ deploys to a sandbox AWS account and needs its credentials (e.g. AWS_PROFILE=sandbox), "
            f"bootstrapped in {args.region} (npx cdk bootstrap): {error}",
            file=sys.stderr,
        )
        return 2
    print(f"integration tests in account {account}, {args.region}: this costs money (docs/testing-on-aws.md)")
    problems: list[str] = []
    for name in args.scenarios or list(SCENARIOS):
        problems += run_scenario(name, SCENARIOS[name], args.region)
    for problem in problems:
        print(f"FAILED {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
