#!/usr/bin/env python3
"""Post-deploy smoke test: every endpoint of an environment answers sample rows with one probability per row.

    python scripts/smoke_test.py --config config/platform.yaml --environment staging [--rows 5] \\
        [--approved-models approved-models.json] [--region R]

An endpoint is expected for each model whose serving mode is real-time or serverless and that has a package to
serve (a pin in the configuration, or an entry in the approved-models file). Rows come from the bundled dataset
without the target column. Exits non-zero, naming each failing endpoint and why, if any check fails.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mlops_config import ConfigError, PlatformConfig, load_config  # noqa: E402
from mlops_config.approved import load_approved_models, served_package  # noqa: E402
from mlops_constructs import naming  # noqa: E402


class SmokeTestError(RuntimeError):
    """An endpoint did not answer as a served binary classifier must."""


@dataclass(frozen=True)
class EndpointCheck:
    """One endpoint to check: the model and its derived endpoint name."""

    model: str
    endpoint_name: str


def endpoints_to_check(
    config: PlatformConfig, environment: str, approved: dict[str, dict[str, str]]
) -> list[EndpointCheck]:
    """The endpoints ``environment`` serves (models with an endpoint mode and a package), in config order."""
    config.environment(environment)  # KeyError for an unknown environment
    checks = []
    for model in config.models:
        serving = model.in_environment(environment).serving
        name = naming.served_endpoint_name(config.project, environment, model.name, serving)
        if name is not None and served_package(config, approved, environment, model.name):
            checks.append(EndpointCheck(model.name, name))
    return checks


def sample_csv(rows: int) -> str:
    """``rows`` rows of the bundled dataset as headerless CSV, without the target column."""
    from pipeline_defs.steps.sample_data import TARGET_COLUMN, sample_dataframe

    frame = sample_dataframe().drop(columns=[TARGET_COLUMN]).head(rows)
    return str(frame.to_csv(header=False, index=False))


def parse_probabilities(body: str, expected_rows: int) -> list[float]:
    """The probabilities in a CSV response (one per line or comma-separated), checked for count and range."""
    values = [item.strip() for line in body.strip().splitlines() for item in line.split(",") if item.strip()]
    if len(values) != expected_rows:
        raise SmokeTestError(f"expected {expected_rows} predictions, got {len(values)}: {body[:200]!r}")
    probabilities = []
    for value in values:
        try:
            number = float(value)
        except ValueError:
            raise SmokeTestError(f"prediction {value!r} is not a number; response {body[:200]!r}") from None
        if not 0.0 <= number <= 1.0:
            raise SmokeTestError(f"prediction {number} is not a probability in [0, 1]")
        probabilities.append(number)
    return probabilities


def check_endpoint(runtime: Any, endpoint_name: str, rows: int) -> list[float]:
    """Invoke ``endpoint_name`` with ``rows`` sample rows; the checked probabilities, or SmokeTestError."""
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint_name, ContentType="text/csv", Accept="text/csv", Body=sample_csv(rows).encode()
        )
    except runtime.exceptions.ClientError as error:
        raise SmokeTestError(f"invoke_endpoint failed: {error}") from None
    body = response["Body"].read().decode("utf-8", errors="replace")
    return parse_probabilities(body, rows)


def run(
    config: PlatformConfig, environment: str, approved: dict[str, dict[str, str]], runtime: Any, rows: int
) -> list[str]:
    """Check every endpoint of ``environment``; the failure messages (empty when all pass)."""
    failures = []
    for check in endpoints_to_check(config, environment, approved):
        try:
            probabilities = check_endpoint(runtime, check.endpoint_name, rows)
        except SmokeTestError as error:
            failures.append(f"{check.endpoint_name} ({check.model}): {error}")
            continue
        print(f"ok: {check.endpoint_name} answered {len(probabilities)} probabilities")
    return failures


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "platform.yaml")
    parser.add_argument("--environment", required=True)
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--approved-models", type=Path, default=Path("approved-models.json"))
    parser.add_argument("--region", help="Default: the environment's region")
    args = parser.parse_args(argv)
    if not 1 <= args.rows <= 500:
        parser.error("--rows: allowed 1-500")
    try:
        config = load_config(args.config)
        approved = load_approved_models(args.approved_models, config)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = [env.name for env in config.environments]
    if args.environment not in names:
        print(
            f"error: --environment {args.environment}: not an environment; allowed: {', '.join(names)}", file=sys.stderr
        )
        return 2
    env = config.environment(args.environment)
    if not endpoints_to_check(config, env.name, approved):
        print(f"{env.name}: no endpoint is served yet (no approved or pinned package); nothing to smoke-test")
        return 0
    import boto3

    runtime = boto3.client("sagemaker-runtime", region_name=args.region or env.region)
    failures = run(config, env.name, approved, runtime, args.rows)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
