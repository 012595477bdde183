"""Application Auto Scaling targets of SageMaker endpoint variants."""

from __future__ import annotations

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


class VariantScalableTargetResourceId(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A scalable target of a SageMaker variant is ``endpoint/<EndpointName>/variant/<VariantName>`` of a real variant.

    AWS docs: "Amazon SageMaker AI and Application Auto Scaling" (Application Auto Scaling User Guide) and
    "Register a model" (SageMaker Developer Guide): for ``sagemaker:variant:DesiredInstanceCount`` the resource ID
    is ``endpoint/my-endpoint/variant/my-variant``. A wrong ID registers nothing that exists and the deploy fails;
    when the endpoint (by literal EndpointName) and its config are in the template, the variant must be one of it.
    """

    id = "E9025"
    shortdesc = "Variant scalable target with a malformed ResourceId or an unknown variant"
    description = "ResourceId is endpoint/<EndpointName>/variant/<VariantName> of a variant of that endpoint"
    source_url = (
        "https://docs.aws.amazon.com/autoscaling/application/userguide/services-that-can-integrate-sagemaker.html"
    )
    tags = ["mlops", "sagemaker", "autoscaling"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Scalable targets of the variant dimension with a literal ResourceId."""
        matches = []
        configs = endpoint_configs_by_name(cfn.template)
        for logical_id, resource in resources(cfn.template, "AWS::ApplicationAutoScaling::ScalableTarget"):
            props = properties(resource)
            resource_id = props.get("ResourceId")
            if props.get("ScalableDimension") != VARIANT_DIMENSION or not isinstance(resource_id, str):
                continue
            path = ["Resources", logical_id, "Properties", "ResourceId"]
            found = VARIANT_RESOURCE_ID.match(resource_id)
            if not found:
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical_id}: ResourceId {resource_id!r} is not "
                        "endpoint/<EndpointName>/variant/<VariantName> (Amazon SageMaker AI and "
                        "Application Auto Scaling)",
                    )
                )
                continue
            config = configs.get(found.group(1))
            if config is None:
                continue
            names = [str(v.get("VariantName")) for v in variants(properties(config[1]))]
            if found.group(2) not in names:
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical_id}: endpoint {found.group(1)!r} has no variant "
                        f"{found.group(2)!r} (its config {config[0]} has {names}); (Amazon SageMaker "
                        "AI and Application Auto Scaling)",
                    )
                )
        return matches
