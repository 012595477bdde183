"""Custom resources: how long CloudFormation waits for them, against how long their Lambda function may run."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import as_int, properties, resource_of, resources

SERVICE_TIMEOUT_MIN, SERVICE_TIMEOUT_MAX = 1, 3600
DEFAULT_FUNCTION_TIMEOUT = 3


class CustomResourceServiceTimeout(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A custom resource's ``ServiceTimeout`` is an integer from 1 to 3600 and outlasts its Lambda function.

    AWS doc: "AWS::CloudFormation::CustomResource" (CloudFormation Template Reference), ``ServiceTimeout``: the
    maximum time, in seconds, that can elapse before a custom resource operation times out; an integer from 1 to
    3600, default 3600. cfn-lint's schema only checks that it is an integer (and CDK renders it as a string), so
    the range is checked here; and when the ``ServiceToken`` is a Lambda function of the template, a timeout not
    above the function's ``Timeout`` fails the stack operation while the function may still be working.
    """

    id = "E9050"
    shortdesc = "Custom resource ServiceTimeout out of range or not above its function's timeout"
    description = "ServiceTimeout is an integer 1-3600 and must exceed the backing Lambda function's Timeout"
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html"
    tags = ["mlops", "cloudformation", "custom-resource"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """``AWS::CloudFormation::CustomResource`` and ``Custom::*`` resources with a ServiceTimeout."""
        matches = []
        for logical_id, resource in resources(cfn.template):
            type_ = str(resource.get("Type", ""))
            if type_ != "AWS::CloudFormation::CustomResource" and not type_.startswith("Custom::"):
                continue
            props = properties(resource)
            if "ServiceTimeout" not in props:
                continue
            path = ["Resources", logical_id, "Properties", "ServiceTimeout"]
            raw = props["ServiceTimeout"]
            timeout = as_int(raw)
            if timeout is None and isinstance(raw, (str, int, float)):
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical_id}: ServiceTimeout {raw!r} is not an integer (AWS::CloudFormation::CustomResource)",
                    )
                )
                continue
            if timeout is None:
                continue
            if not SERVICE_TIMEOUT_MIN <= timeout <= SERVICE_TIMEOUT_MAX:
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical_id}: ServiceTimeout {timeout} is outside 1-3600 "
                        "(AWS::CloudFormation::CustomResource)",
                    )
                )
                continue
            function = resource_of(cfn.template, props.get("ServiceToken"), "AWS::Lambda::Function")
            if function is None:
                continue
            function_timeout = as_int(properties(function[1]).get("Timeout", DEFAULT_FUNCTION_TIMEOUT))
            if function_timeout is not None and timeout <= function_timeout:
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical_id}: ServiceTimeout {timeout} s does not exceed the {function_timeout} s Timeout "
                        f"of its function {function[0]}: CloudFormation gives up while the function may still run "
                        "(AWS::CloudFormation::CustomResource, ServiceTimeout)",
                    )
                )
        return matches
