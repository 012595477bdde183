#!/usr/bin/env python3
"""Ask the model registry which package each environment should serve, and write the approved-models file.

For every model, the latest ``Approved`` package of its group (``naming.model_package_group_name``) in the
registry environment's account is what every environment that serves the model deploys. A model without an
approved package is left out (its environments deploy without an endpoint until the first approval).

    python scripts/resolve_approved_models.py --config config/platform.yaml --out approved-models.json \\
        [--region R] [--role-arn ARN]

Only the package ARNs are resolved: each environment's promotion copies a package's artifact and drift-check
baselines from the registry at deploy (``mlops_constructs.promotion``), so nothing else is an input to synth.

CI runs this before ``cdk synth -c approved_models=approved-models.json`` (the default); synth itself never
calls AWS.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mlops_config import ConfigError, PlatformConfig, load_config  # noqa: E402
from mlops_constructs import naming  # noqa: E402

LOG = logging.getLogger("resolve_approved_models")


class ResolveError(RuntimeError):
    """The registry cannot answer for a model (e.g. its package group does not exist)."""


def serving_environments(config: PlatformConfig, model: str) -> list[str]:
    """Environments where ``model`` is served (an endpoint or batch inference), in config order."""
    settings = next(m for m in config.models if m.name == model)
    names = []
    for env in config.environments:
        serving = settings.in_environment(env.name).serving
        if serving.mode != "none" or serving.batch.enabled:
            names.append(env.name)
    return names


def latest_approved_package(client: Any, group_name: str) -> str | None:
    """ARN of the newest Approved package in ``group_name``, or None; ResolveError if the group is missing."""
    try:
        client.describe_model_package_group(ModelPackageGroupName=group_name)
    except client.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("ValidationException", "ResourceNotFound", "ResourceNotFoundException"):
            raise ResolveError(
                f"model package group {group_name!r} does not exist in the registry; deploy the registry "
                "environment's data stack first (it creates one group per model)"
            ) from error
        raise
    paginator = client.get_paginator("list_model_packages")
    newest: tuple[Any, str] | None = None
    for page in paginator.paginate(
        ModelPackageGroupName=group_name,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
    ):
        for summary in page.get("ModelPackageSummaryList", []):
            # Sorted newest first, but compare anyway: the answer must not depend on page order.
            if summary.get("ModelApprovalStatus") != "Approved":
                continue
            key = (summary["CreationTime"], summary.get("ModelPackageVersion", 0))
            if newest is None or key > newest[0]:
                newest = (key, summary["ModelPackageArn"])
    return newest[1] if newest else None


def resolve(config: PlatformConfig, client: Any) -> dict[str, dict[str, str]]:
    """``{environment: {model: package ARN}}`` for every environment serving a model with an approved package."""
    result: dict[str, dict[str, str]] = {}
    for model in config.models:
        environments = serving_environments(config, model.name)
        if not environments:
            LOG.info("%s: served nowhere; skipped", model.name)
            continue
        group = naming.model_package_group_name(config.project, model.name)
        arn = latest_approved_package(client, group)
        if arn is None:
            LOG.warning("%s: no Approved package in %s yet; its environments deploy without it", model.name, group)
            continue
        LOG.info("%s: serving %s in %s", model.name, arn, ", ".join(environments))
        for env in environments:
            result.setdefault(env, {})[model.name] = arn
    return result


def registry_client(config: PlatformConfig, region: str | None, role_arn: str | None) -> Any:
    """A SageMaker client for the registry account (through ``role_arn`` when given)."""
    import boto3

    region = region or config.registry.region
    if not role_arn:
        return boto3.client("sagemaker", region_name=region)
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=role_arn, RoleSessionName="resolve-approved-models"
    )["Credentials"]
    return boto3.client(
        "sagemaker",
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "platform.yaml")
    parser.add_argument("--out", type=Path, default=Path("approved-models.json"))
    parser.add_argument("--region", help="Registry region (default: the registry environment's)")
    parser.add_argument("--role-arn", help="Role to assume for reading the registry account")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        config = load_config(args.config)
        client = registry_client(config, args.region, args.role_arn)
        approved = resolve(config, client)
    except (ConfigError, ResolveError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    # Written only once every registry call succeeded: a failed lookup leaves no file half-resolved.
    args.out.write_text(json.dumps(approved, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    LOG.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
