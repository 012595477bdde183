"""Lambda settings that fail in accounts with the default (or a new account's low) concurrency quota."""

from __future__ import annotations

from collections.abc import Mapping

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import properties, resources

OPT_IN = "reserved-concurrency"


def opted_in(metadata: object, feature: str) -> bool:
    """Whether a resource's Metadata carries ``{"mlops": {"opt_in": [..., feature, ...]}}``."""
    if not isinstance(metadata, Mapping):
        return False
    mlops = metadata.get("mlops")
    opt_in = mlops.get("opt_in") if isinstance(mlops, Mapping) else None
    return isinstance(opt_in, list) and feature in opt_in


class ReservedConcurrencyOptIn(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """``ReservedConcurrentExecutions`` only as an explicit, recorded opt-in.

    AWS doc: "Configuring reserved concurrency for a function" (Lambda Developer Guide): an account can reserve
    up to its unreserved concurrency minus 100, which is kept for functions without a reservation; new accounts
    start with quotas low enough that a reservation of 1 already fails (see also "Lambda quotas"). A function
    may reserve concurrency only when the configuration opted in, which the construct records as the resource
    metadata ``{"mlops": {"opt_in": ["reserved-concurrency"]}}``.
    """

    id = "E9003"
    shortdesc = "Lambda reserved concurrency without the opt-in"
    description = "ReservedConcurrentExecutions fails in accounts that cannot keep 100 unreserved executions"
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
    tags = ["mlops", "lambda", "quotas"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Functions with a positive reservation and no opt-in metadata."""
        matches = []
        for logical_id, resource in resources(cfn.template, "AWS::Lambda::Function"):
            reserved = properties(resource).get("ReservedConcurrentExecutions")
            if reserved is None or (isinstance(reserved, int) and reserved <= 0):
                continue
            if opted_in(resource.get("Metadata"), OPT_IN):
                continue
            matches.append(
                RuleMatch(
                    ["Resources", logical_id, "Properties", "ReservedConcurrentExecutions"],
                    f"{logical_id} reserves {reserved} concurrent executions without the opt-in "
                    f'(Metadata {{"mlops": {{"opt_in": ["{OPT_IN}"]}}}}): accounts must keep 100 unreserved '
                    "and new accounts have low quotas (Configuring reserved concurrency for a function)",
                )
            )
        return matches
