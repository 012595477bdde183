"""Serverless endpoints: the real-time features Serverless Inference does not have."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import is_serverless_config, properties, referenced_id, resources, variants

ENDPOINT_CONFIG = "AWS::SageMaker::EndpointConfig"
MODEL = "AWS::SageMaker::Model"


class ServerlessEndpointConfigExclusions(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A serverless endpoint config asks for no feature Serverless Inference excludes.

    AWS docs: "Serverless Inference" (SageMaker Developer Guide), section "Feature exclusions": no data capture
    (so no Model Monitor), no multiple production variants; and "Exclusions" of shadow tests: serverless
    endpoints cannot take shadow variants. Data capture on a serverless variant never captures anything, so a
    capture-based monitor on it sees no data.
    """

    id = "E9020"
    shortdesc = "Serverless endpoint config uses a feature Serverless Inference excludes"
    description = "Serverless endpoint configs cannot capture data, hold several variants or shadow variants"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html"
    tags = ["mlops", "sagemaker", "serverless"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every endpoint config with a serverless variant."""
        matches = []
        for logical_id, resource in resources(cfn.template, ENDPOINT_CONFIG):
            props = properties(resource)
            if not is_serverless_config(props):
                continue
            base = ["Resources", logical_id, "Properties"]
            problems = []
            if "DataCaptureConfig" in props:
                problems.append(("DataCaptureConfig", "data capture (and so Model Monitor) is not available"))
            if len(variants(props)) > 1:
                problems.append(("ProductionVariants", "only one production variant is allowed"))
            if props.get("ShadowProductionVariants"):
                problems.append(("ShadowProductionVariants", "shadow tests are not available"))
            for key, why in problems:
                matches.append(
                    RuleMatch(
                        [*base, key], f"{logical_id} is serverless: {why} (Serverless Inference, Feature exclusions)"
                    )
                )
        return matches


class ServerlessModelExclusions(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A model served by a serverless variant has no VPC configuration and no network isolation.

    AWS doc: "Serverless Inference" (SageMaker Developer Guide), section "Feature exclusions": VPC configuration
    and network isolation are among the real-time features serverless endpoints do not support.
    """

    id = "E9021"
    shortdesc = "Model of a serverless variant uses VpcConfig or network isolation"
    description = "Serverless Inference excludes VPC configuration and network isolation"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html"
    tags = ["mlops", "sagemaker", "serverless"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Models that a serverless variant in the same template names (Ref/GetAtt or literal ModelName)."""
        matches = []
        models = dict(resources(cfn.template, MODEL))
        for config_id, config in resources(cfn.template, ENDPOINT_CONFIG):
            for variant in variants(properties(config)):
                if "ServerlessConfig" not in variant:
                    continue
                name = variant.get("ModelName")
                target = referenced_id(name)
                for model_id, model in models.items():
                    props = properties(model)
                    if target != model_id and not (isinstance(name, str) and props.get("ModelName") == name):
                        continue
                    base = ["Resources", model_id, "Properties"]
                    if "VpcConfig" in props:
                        matches.append(RuleMatch([*base, "VpcConfig"], self._message(model_id, config_id, "VpcConfig")))
                    if props.get("EnableNetworkIsolation") is True:
                        matches.append(
                            RuleMatch(
                                [*base, "EnableNetworkIsolation"],
                                self._message(model_id, config_id, "EnableNetworkIsolation"),
                            )
                        )
        return matches

    @staticmethod
    def _message(model_id: str, config_id: str, key: str) -> str:
        return (
            f"{model_id} is served serverless by {config_id}: {key} is not supported "
            "(Serverless Inference, Feature exclusions)"
        )
