#!/usr/bin/env python3
"""Post-deploy smoke test: every endpoint of an environment answers sample rows as its problem type must.

Binary: one probability in [0, 1] per row. Multiclass: one line per row, either the K class probabilities (K >= 2,
each in [0, 1], summing to 1, the same K on every line: XGBoost ``multi:softprob``) or one class index. Regression:
one finite number per row (docs/bring-your-own-model.md, "Problem types: what you get").

    python scripts/smoke_test.py --config config/platform.yaml --environment staging [--rows 5] \\
        [--approved-models approved-models.json] [--region R]

An endpoint is expected for each model with an endpoint (real-time, serverless, asynchronous, or an inference
component of the environment's shared endpoint) and a package to serve (a pin in the configuration, or an entry in
the approved-models file). Rows come from the bundled dataset without the target column. An asynchronous endpoint
is sent the rows as an object under its input prefix (``InvokeEndpointAsync``); the test waits for the result
object (``--async-timeout`` seconds) and fails on a failure object or on the timeout. Exits non-zero, naming each
failing endpoint and why, if any check fails.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mlops_config import ConfigError, PlatformConfig, load_config  # noqa: E402
from mlops_config.approved import load_approved_models, served_package  # noqa: E402
from mlops_constructs import naming  # noqa: E402


class SmokeTestError(RuntimeError):
    """An endpoint did not answer as a served model of its problem type must."""


@dataclass(frozen=True)
class EndpointCheck:
    """One endpoint to check: the model, its derived endpoint name and how it is invoked.

    ``inference_component`` is set for a model served as an inference component (invoked on the shared endpoint
    with that component's name); ``async_input`` (bucket, prefix) for an asynchronous endpoint, whose requests are
    objects under that prefix.
    """

    model: str
    endpoint_name: str
    problem_type: str = "binary_classification"
    features: tuple[str, ...] = ()
    inference_component: str | None = None
    async_input: tuple[str, str] | None = None


@dataclass(frozen=True)
class AsyncWait:
    """How long to wait for an asynchronous result, and the clock and sleep to do it with (tests pass fakes)."""

    timeout_seconds: float = 900
    poll_seconds: float = 10
    clock: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], None] = field(default=time.sleep)


def endpoints_to_check(
    config: PlatformConfig, environment: str, approved: dict[str, dict[str, str]]
) -> list[EndpointCheck]:
    """The endpoints ``environment`` serves (models with an endpoint mode and a package), in config order."""
    env = config.environment(environment)  # KeyError for an unknown environment
    checks = []
    for model in config.models:
        serving = model.in_environment(environment).serving
        name = naming.served_endpoint_name(config.project, environment, model.name, serving, env.inference_components)
        if name is None or not served_package(config, approved, environment, model.name):
            continue
        component = (
            naming.inference_component_name(config.project, environment, model.name)
            if serving.mode == "components"
            else None
        )
        async_input = (
            (
                naming.bucket_name(config.project, environment, "data", env.account, env.region),
                serving.async_inference.prefixes(model.name)[0],
            )
            if serving.mode == "async"
            else None
        )
        features = model.in_environment(environment).monitoring.features
        checks.append(EndpointCheck(model.name, name, model.problem_type, features, component, async_input))
    return checks


def sample_csv(rows: int, features: tuple[str, ...] = ()) -> str:
    """``rows`` rows of headerless CSV: the bundled dataset's when ``features`` are its columns (or not given),
    otherwise zeros in ``features``' order (the answer's shape is checked, not its quality)."""
    from mlops_config.monitoring import SAMPLE_FEATURES
    from pipeline_defs.steps.sample_data import TARGET_COLUMN, sample_dataframe

    if features and tuple(features) != SAMPLE_FEATURES:
        return "".join(",".join("0" for _ in features) + "\n" for _ in range(rows))
    frame = sample_dataframe().drop(columns=[TARGET_COLUMN]).head(rows)
    return str(frame.to_csv(header=False, index=False))


def _number(value: str, body: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SmokeTestError(f"prediction {value!r} is not a number; response {body[:200]!r}") from None
    if not math.isfinite(number):
        raise SmokeTestError(f"prediction {value!r} is not a finite number")
    return number


def _values(body: str, expected_rows: int) -> list[float]:
    # One value per row, one per line or comma-separated.
    values = [item.strip() for line in body.strip().splitlines() for item in line.split(",") if item.strip()]
    if len(values) != expected_rows:
        raise SmokeTestError(f"expected {expected_rows} predictions, got {len(values)}: {body[:200]!r}")
    return [_number(value, body) for value in values]


def parse_probabilities(body: str, expected_rows: int) -> list[float]:
    """The probabilities in a CSV response (one per line or comma-separated), checked for count and range."""
    probabilities = _values(body, expected_rows)
    for number in probabilities:
        if not 0.0 <= number <= 1.0:
            raise SmokeTestError(f"prediction {number} is not a probability in [0, 1]")
    return probabilities


# How far a row of class probabilities may sum from 1 (float32 rounding of K values).
PROBABILITY_SUM_TOLERANCE = 1e-3


def parse_multiclass(body: str, expected_rows: int) -> list[list[float]]:
    """One line per row: K >= 2 class probabilities summing to 1 (the same K on each line), or one class index."""
    lines = [line for line in body.strip().splitlines() if line.strip()]
    if len(lines) != expected_rows:
        raise SmokeTestError(f"expected {expected_rows} lines (one per row), got {len(lines)}: {body[:200]!r}")
    rows = [[_number(item.strip(), body) for item in line.split(",")] for line in lines]
    widths = sorted({len(row) for row in rows})
    if len(widths) != 1:
        raise SmokeTestError(f"rows answer different numbers of classes {widths}: {body[:200]!r}")
    for row in rows:
        if len(row) == 1:
            if row[0] < 0 or row[0] != int(row[0]):
                raise SmokeTestError(f"prediction {row[0]} is not a class index (a whole number >= 0)")
            continue
        if not all(0.0 <= value <= 1.0 for value in row) or abs(sum(row) - 1.0) > PROBABILITY_SUM_TOLERANCE:
            raise SmokeTestError(f"prediction {row} is not class probabilities in [0, 1] summing to 1")
    return rows


def parse_predictions(body: str, expected_rows: int, problem_type: str) -> list[Any]:
    """The answer of a ``problem_type`` model to ``expected_rows`` rows, checked; ``SmokeTestError`` otherwise."""
    if problem_type == "multiclass_classification":
        return parse_multiclass(body, expected_rows)
    if problem_type == "regression":
        return _values(body, expected_rows)
    return parse_probabilities(body, expected_rows)


def check_endpoint(runtime: Any, endpoint_name: str, rows: int, check: EndpointCheck | None = None) -> list[Any]:
    """Invoke ``endpoint_name`` with ``rows`` sample rows; the checked predictions, or SmokeTestError.

    ``check`` (default: a binary classifier on the bundled dataset's features) gives the problem type and features.
    """
    check = check or EndpointCheck("", endpoint_name)
    extra = {"InferenceComponentName": check.inference_component} if check.inference_component else {}
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType="text/csv",
            Accept="text/csv",
            Body=sample_csv(rows, check.features).encode(),
            **extra,
        )
    except runtime.exceptions.ClientError as error:
        raise SmokeTestError(f"invoke_endpoint failed: {error}") from None
    body = response["Body"].read().decode("utf-8", errors="replace")
    return parse_predictions(body, rows, check.problem_type)


_ANSWERS = {
    "binary_classification": "probabilities",
    "multiclass_classification": "class predictions",
    "regression": "numbers",
}


def _split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise SmokeTestError(f"{uri!r} is not an s3://bucket/key location")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def _read_object(s3: Any, uri: str) -> str | None:
    """The text of the object at ``uri``, or None while it does not exist."""
    bucket, key = _split_s3_uri(uri)
    try:
        return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace"))
    except s3.exceptions.NoSuchKey:
        return None


def check_async_endpoint(
    runtime: Any, s3: Any, check: EndpointCheck, rows: int, wait: AsyncWait | None = None
) -> list[Any]:
    """Queue ``rows`` sample rows on the asynchronous endpoint of ``check`` and wait for the result object.

    The rows are uploaded under the endpoint's input prefix (``InvokeEndpointAsync`` reads requests from S3); the
    response names where the result and, on failure, the error will be written. SmokeTestError on a failure
    object, on a timeout, or on a result that is not the model's answer to each row (``parse_predictions``).
    """
    wait = wait or AsyncWait()
    assert check.async_input is not None
    bucket, prefix = check.async_input
    key = f"{prefix}smoke-test/{uuid.uuid4().hex}.csv"
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=sample_csv(rows, check.features).encode(), ContentType="text/csv")
        response = runtime.invoke_endpoint_async(
            EndpointName=check.endpoint_name,
            InputLocation=f"s3://{bucket}/{key}",
            ContentType="text/csv",
            Accept="text/csv",
        )
    except (runtime.exceptions.ClientError, s3.exceptions.ClientError) as error:
        raise SmokeTestError(f"queueing an asynchronous request failed: {error}") from None
    output, failure = response["OutputLocation"], response.get("FailureLocation")
    deadline = wait.clock() + wait.timeout_seconds
    while True:
        body = _read_object(s3, output)
        if body is not None:
            return parse_predictions(body, rows, check.problem_type)
        if failure:
            error_body = _read_object(s3, failure)
            if error_body is not None:
                raise SmokeTestError(f"the asynchronous request failed ({failure}): {error_body[:200]!r}")
        if wait.clock() >= deadline:
            raise SmokeTestError(
                f"no result at {output} after {wait.timeout_seconds:g}s (the endpoint may be scaling up from zero: "
                "raise --async-timeout)"
            )
        wait.sleep(wait.poll_seconds)


def run(
    config: PlatformConfig,
    environment: str,
    approved: dict[str, dict[str, str]],
    runtime: Any,
    rows: int,
    *,
    s3: Any = None,
    wait: AsyncWait | None = None,
) -> list[str]:
    """Check every endpoint of ``environment``; the failure messages (empty when all pass). ``s3`` is needed
    for asynchronous endpoints."""
    failures = []
    for check in endpoints_to_check(config, environment, approved):
        try:
            if check.async_input is not None:
                if s3 is None:
                    raise SmokeTestError("an asynchronous endpoint needs an S3 client")
                predictions = check_async_endpoint(runtime, s3, check, rows, wait)
            else:
                predictions = check_endpoint(runtime, check.endpoint_name, rows, check)
        except SmokeTestError as error:
            failures.append(f"{check.endpoint_name} ({check.model}): {error}")
            continue
        print(f"ok: {check.endpoint_name} answered {len(predictions)} {_ANSWERS[check.problem_type]} ({check.model})")
    return failures


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "platform.yaml")
    parser.add_argument("--environment", required=True)
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--approved-models", type=Path, default=Path("approved-models.json"))
    parser.add_argument("--region", help="Default: the environment's region")
    parser.add_argument(
        "--async-timeout", type=float, default=900, help="Seconds to wait for an asynchronous result (default 900)"
    )
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

    region = args.region or env.region
    runtime = boto3.client("sagemaker-runtime", region_name=region)
    s3 = boto3.client("s3", region_name=region)
    failures = run(
        config, env.name, approved, runtime, args.rows, s3=s3, wait=AsyncWait(timeout_seconds=args.async_timeout)
    )
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
