"""Endpoint deployment policies that SageMaker's deployment guardrails exclude."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import is_serverless_config, properties, resolve_resource, resources, variants

ENDPOINT = "AWS::SageMaker::Endpoint"
ENDPOINT_CONFIG = "AWS::SageMaker::EndpointConfig"


def _config_of(template: Mapping[str, Any], endpoint: Mapping[str, Any]) -> Mapping[str, Any] | None:
    found = resolve_resource(
        template,
        properties(endpoint).get("EndpointConfigName"),
        type_=ENDPOINT_CONFIG,
        name_property="EndpointConfigName",
    )
    return properties(found[1]) if found else None


class DeploymentGuardrailsExclusions(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """Deployment policies only where deployment guardrails apply.

    AWS doc: "Exclusions" (SageMaker Developer Guide, deployment guardrails): endpoints with Inf1 (Inferentia)
    instances or Marketplace containers cannot use guardrails and fall back to all-at-once blue/green with no
    baking period (so canary/linear shifting and alarm-driven auto-rollback silently do nothing); a rolling
    deployment also excludes serverless endpoints and multi-variant endpoints.
    """

    id = "E9023"
    shortdesc = "Deployment policy on an endpoint that deployment guardrails exclude"
    description = "Rolling updates exclude serverless and multi-variant endpoints; Inf1 endpoints get no guardrails"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html"
    tags = ["mlops", "sagemaker", "deployment"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every endpoint with a DeploymentConfig whose config is in the same template."""
        matches = []
        for logical_id, endpoint in resources(cfn.template, ENDPOINT):
            deployment = properties(endpoint).get("DeploymentConfig")
            config = _config_of(cfn.template, endpoint)
            if not isinstance(deployment, Mapping) or config is None:
                continue
            path = ["Resources", logical_id, "Properties", "DeploymentConfig"]
            if "RollingUpdatePolicy" in deployment:
                if is_serverless_config(config):
                    matches.append(
                        RuleMatch(path, f"{logical_id}: rolling deployments exclude serverless endpoints (Exclusions)")
                    )
                if len(variants(config)) > 1:
                    matches.append(
                        RuleMatch(
                            path, f"{logical_id}: rolling deployments exclude multi-variant endpoints (Exclusions)"
                        )
                    )
            inf1 = [
                v.get("InstanceType")
                for v in variants(config)
                if isinstance(v.get("InstanceType"), str) and str(v.get("InstanceType")).startswith("ml.inf1.")
            ]
            if inf1 and self._uses_guardrails(deployment):
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical_id}: {inf1[0]} (Inf1) endpoints cannot use deployment guardrails; SageMaker falls "
                        "back to all-at-once with no baking period, so traffic shifting and auto-rollback do nothing "
                        "(Exclusions)",
                    )
                )
        return matches

    @staticmethod
    def _uses_guardrails(deployment: Mapping[str, Any]) -> bool:
        if "RollingUpdatePolicy" in deployment or deployment.get("AutoRollbackConfiguration"):
            return True
        policy = deployment.get("BlueGreenUpdatePolicy")
        routing = policy.get("TrafficRoutingConfiguration") if isinstance(policy, Mapping) else None
        return isinstance(routing, Mapping) and routing.get("Type") in ("CANARY", "LINEAR")


class TrafficShiftingStepSize(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """Canary and linear step sizes within the range SageMaker documents.

    AWS docs: "Use canary traffic shifting": the canary should be at most 50% of the new fleet's capacity;
    "Use linear traffic shifting": each linear step should be between 10% and 50% of the green fleet's capacity.
    Judged on ``CAPACITY_PERCENT`` sizes, and on ``INSTANCE_COUNT`` sizes against the variants' literal
    ``InitialInstanceCount`` in the same template.
    """

    id = "E9024"
    shortdesc = "Canary or linear traffic-shifting step outside the documented range"
    description = "Canary at most 50% of the new fleet; linear steps between 10% and 50% of it"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html"
    tags = ["mlops", "sagemaker", "deployment"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every endpoint with CANARY or LINEAR blue/green traffic routing."""
        matches = []
        for logical_id, endpoint in resources(cfn.template, ENDPOINT):
            deployment = properties(endpoint).get("DeploymentConfig")
            policy = deployment.get("BlueGreenUpdatePolicy") if isinstance(deployment, Mapping) else None
            routing = policy.get("TrafficRoutingConfiguration") if isinstance(policy, Mapping) else None
            if not isinstance(routing, Mapping):
                continue
            kind = routing.get("Type")
            size_key, low, high = {"CANARY": ("CanarySize", 0, 50), "LINEAR": ("LinearStepSize", 10, 50)}.get(
                str(kind), (None, 0, 0)
            )
            size = routing.get(size_key) if size_key else None
            if not isinstance(size, Mapping) or not isinstance(size.get("Value"), int):
                continue
            percent = self._percent(cfn.template, endpoint, size)
            if percent is not None and not low <= percent <= high:
                matches.append(
                    RuleMatch(
                        ["Resources", logical_id, "Properties", "DeploymentConfig", "BlueGreenUpdatePolicy"],
                        f"{logical_id}: {kind} {size_key} is {percent:g}% of the new fleet; the documented range is "
                        f"{'up to 50%' if kind == 'CANARY' else '10% to 50%'} (Use canary / linear traffic shifting)",
                    )
                )
        return matches

    @staticmethod
    def _percent(template: Mapping[str, Any], endpoint: Mapping[str, Any], size: Mapping[str, Any]) -> float | None:
        value = int(size["Value"])
        if size.get("Type") == "CAPACITY_PERCENT":
            return float(value)
        config = _config_of(template, endpoint)
        counts = [v.get("InitialInstanceCount") for v in variants(config or {})]
        if size.get("Type") == "INSTANCE_COUNT" and counts and all(isinstance(c, int) and c > 0 for c in counts):
            return 100.0 * value / sum(int(c) for c in counts if isinstance(c, int))
        return None
