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
