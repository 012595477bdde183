"""Shadow variants and scaling to zero: the shapes SageMaker accepts for the inference modes of issue 16.

cfn-lint's schema already bounds ``AsyncInferenceClientConfig.MaxConcurrentInvocationsPerInstance`` (1-1000) and
``ManagedInstanceScaling.MinInstanceCount`` (0 or more); these rules add what the schema cannot say.
"""

from __future__ import annotations

from collections.abc import Mapping

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import (
    VARIANT_DIMENSION,
    VARIANT_RESOURCE_ID,
    endpoint_configs_by_name,
    properties,
    resources,
    variants,
)

ENDPOINT_CONFIG = "AWS::SageMaker::EndpointConfig"


class ShadowVariantsShape(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """An endpoint config with shadow variants has exactly one production and one shadow variant, named apart.

    AWS docs: ``CreateEndpointConfig`` (API reference), ``ShadowProductionVariants``: "If you use this field, you can
    only specify one variant for ProductionVariants and one variant for ShadowProductionVariants"; "Create a shadow
    test": "a maximum of one shadow variant per endpoint ... a maximum of one production variant". The resource
    schema allows up to 10 of each, so CloudFormation accepts the template and SageMaker fails the deploy.
    """

    id = "E9026"
    shortdesc = "Shadow variants with other than one production and one shadow variant"
    description = "ShadowProductionVariants: one production variant, one shadow variant, different names"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html"
    tags = ["mlops", "sagemaker", "shadow"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every endpoint config with ShadowProductionVariants."""
        matches = []
        for logical_id, resource in resources(cfn.template, ENDPOINT_CONFIG):
            props = properties(resource)
            shadows = props.get("ShadowProductionVariants")
            if not isinstance(shadows, list) or not shadows:
                continue
            base = ["Resources", logical_id, "Properties"]
            production = variants(props)
            if len(production) != 1:
                matches.append(
                    RuleMatch(
                        [*base, "ProductionVariants"],
                        f"{logical_id}: {len(production)} production variants next to shadow variants; allowed: "
                        "exactly one (CreateEndpointConfig, ShadowProductionVariants)",
                    )
                )
            if len(shadows) != 1:
                matches.append(
                    RuleMatch(
                        [*base, "ShadowProductionVariants"],
                        f"{logical_id}: {len(shadows)} shadow variants; allowed: exactly one (CreateEndpointConfig, "
                        "ShadowProductionVariants)",
                    )
                )
            names = {v.get("VariantName") for v in production} & {
                v.get("VariantName") for v in shadows if isinstance(v, Mapping)
            }
            for name in sorted(n for n in names if isinstance(n, str)):
                matches.append(
                    RuleMatch(
                        [*base, "ShadowProductionVariants"],
                        f"{logical_id}: the shadow variant has the production variant's name {name!r}; variant "
                        "names of an endpoint are distinct (CreateEndpointConfig)",
                    )
                )
        return matches


class ScaleToZeroOnlyAsync(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A variant scalable target may have ``MinCapacity`` 0 only on an asynchronous endpoint.

    AWS docs: "Autoscale an asynchronous endpoint": unlike other hosted models, an asynchronous endpoint can scale
    its instances to zero; "Scale an endpoint to zero instances": otherwise "an endpoint can scale to and from zero
    instances only if it hosts inference components", whose copies scale on
    ``sagemaker:inference-component:DesiredCopyCount`` and whose instances SageMaker manages
    (``ManagedInstanceScaling``), not through the variant's instance count. Checked when the endpoint (by literal
    name) and its config are in the template.
    """

    id = "E9027"
    shortdesc = "Variant scaled to zero instances on an endpoint that is not asynchronous"
    description = "MinCapacity 0 on sagemaker:variant:DesiredInstanceCount needs an AsyncInferenceConfig"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html"
    tags = ["mlops", "sagemaker", "autoscaling"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Variant scalable targets with MinCapacity 0 whose endpoint config is in the template."""
        matches = []
        configs = endpoint_configs_by_name(cfn.template)
        for logical_id, resource in resources(cfn.template, "AWS::ApplicationAutoScaling::ScalableTarget"):
            props = properties(resource)
            found = VARIANT_RESOURCE_ID.match(str(props.get("ResourceId")))
            if props.get("ScalableDimension") != VARIANT_DIMENSION or props.get("MinCapacity") != 0 or not found:
                continue
            config = configs.get(found.group(1))
            if config is None or "AsyncInferenceConfig" in properties(config[1]):
                continue
            matches.append(
                RuleMatch(
                    ["Resources", logical_id, "Properties", "MinCapacity"],
                    f"{logical_id}: MinCapacity 0 on endpoint {found.group(1)!r}, whose config {config[0]} is not "
                    "asynchronous; only asynchronous endpoints scale a variant to zero instances (endpoints of "
                    "inference components scale copies instead) (Scale an endpoint to zero instances)",
                )
            )
        return matches
