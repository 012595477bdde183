"""Cross-stack references CloudFormation cannot resolve where the template puts them."""

from __future__ import annotations

from collections.abc import Mapping

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import walk


class GetStackOutputInSubVariableMap(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """No ``Fn::GetStackOutput`` inside an ``Fn::Sub`` variable map.

    AWS doc: "Fn::GetStackOutput" (CloudFormation Template Reference), "Known limitations": the function nested
    in an ``Fn::Sub`` variable map fails the stack operation with ``InternalFailure``. CDK emits exactly this for
    weak cross-stack references (``@aws-cdk/core:defaultCrossStackReferences: weak``) handed to a string that
    CDK renders with ``Fn::Sub``, such as a SageMaker pipeline definition. ``Fn::ImportValue`` is not flagged:
    the "Fn::Sub" reference lists it among the functions a variable map supports.

    Kept although cfn-lint itself accepts the pattern: aws-cloudformation/cfn-lint pull request #4519 (merged
    2026-05-26) reports that CloudFormation has since accepted ``Fn::GetStackOutput`` in ``Fn::Sub`` maps in
    us-east-1, while the documentation page above still lists the limitation; until the page drops it, the
    documented behaviour wins, and the fix (a derived alias ARN, no cross-stack reference) costs nothing.
    """

    id = "E9001"
    shortdesc = "Fn::GetStackOutput inside an Fn::Sub variable map"
    description = "CloudFormation fails with InternalFailure on Fn::GetStackOutput nested in an Fn::Sub variable map"
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getstackoutput.html"
    tags = ["mlops", "cross-stack", "intrinsics"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every Fn::Sub whose variable map holds an Fn::GetStackOutput, anywhere in the template."""
        matches = []
        for path, node in walk(cfn.template):
            if not (isinstance(node, Mapping) and len(node) == 1 and "Fn::Sub" in node):
                continue
            sub = node["Fn::Sub"]
            if not (isinstance(sub, list) and len(sub) == 2 and isinstance(sub[1], Mapping)):
                continue
            for name, value in sub[1].items():
                if any(isinstance(n, Mapping) and "Fn::GetStackOutput" in n for _, n in walk(value)):
                    matches.append(
                        RuleMatch(
                            [*path, "Fn::Sub", 1, str(name)],
                            f"Fn::Sub variable {name!r} is an Fn::GetStackOutput: CloudFormation fails with "
                            "InternalFailure (Fn::GetStackOutput, Known limitations); pass a value that needs no "
                            "cross-stack reference (for a KMS key, its alias ARN) or a strong reference",
                        )
                    )
        return matches
