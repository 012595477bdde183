"""Grants that grow with every model, listed exactly in customer managed policies that fit IAM's quotas.

"IAM and AWS STS quotas" (IAM User Guide): the inline policies of a role hold 10,240 characters in all, a managed
policy 6,144 (whitespace not counted), and a role has 10 managed policies attached by default. One or two ARNs per
model outgrow a role's inline quota at about 60-120 models. CDK then splits the role's default policy into
``OverflowPolicy`` managed policies on its own: at the root path, where the CloudFormation execution policy may not
create policies (bootstrap/execution-policy.json), with statements moving between policies from one synth to the
next (aws/aws-cdk#35611), and cdk-nag's IAM5 throws on the split policy. ``ExactGrantPolicies`` packs the ARNs in
order into as few policies as hold them, under the project's path. cfn_rules/iam_size.py (E9071, E9072) checks
every synthesized policy against the quotas and the path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

MANAGED_POLICY_CHARACTERS = 6_144
MANAGED_POLICIES_PER_ROLE = 10
# The longest a pseudo parameter resolves to ("aws-us-gov", "ap-southeast-1", an account, "amazonaws.com.cn"), and a
# generous bound for any other reference.
_LONGEST_PSEUDO = {"AWS::Partition": 10, "AWS::Region": 14, "AWS::AccountId": 12, "AWS::URLSuffix": 16}
_LONGEST_REFERENCE = 128
# Each listed ARN's quotes and comma, and the rest of a one-statement policy document, generously rounded up.
_PER_ARN = 3
_POLICY_OVERHEAD = 300

T = TypeVar("T")


def longest_length(resolved: object) -> int:
    """The most characters a resolved template value (a string or an intrinsic) can stand for once deployed."""
    if isinstance(resolved, str):
        return len(resolved)
    if isinstance(resolved, Mapping) and len(resolved) == 1:
        ((function, argument),) = resolved.items()
        if function == "Ref" and isinstance(argument, str):
            return _LONGEST_PSEUDO.get(argument, _LONGEST_REFERENCE)
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            parts = argument[1] if isinstance(argument[1], list) else [argument[1]]
            return len(str(argument[0])) * max(0, len(parts) - 1) + sum(longest_length(part) for part in parts)
    return _LONGEST_REFERENCE


def pack(items: Sequence[T], cost: Callable[[T], int], *, capacity: int = MANAGED_POLICY_CHARACTERS) -> list[list[T]]:
    """``items`` in order, cut into runs whose costs (plus one document's overhead) stay within ``capacity``.

    A new item is appended to the last run: the runs before it, and so their policies, stay unchanged.
    """
    runs: list[list[T]] = [[]]
    used = _POLICY_OVERHEAD
    for item in items:
        price = cost(item)
        if runs[-1] and used + price > capacity:
            runs.append([])
            used = _POLICY_OVERHEAD
        runs[-1].append(item)
        used += price
    return runs


class ExactGrantPolicies(Construct):
    """``actions`` for ``role`` on each item's exact ARNs, in customer managed policies that fit IAM's quotas.

    ``resources`` holds one tuple of ARNs per item (a model's endpoint, a model's package group and its packages);
    an item's ARNs always share a policy. Each ARN is costed at the longest it can resolve to, so every policy fits
    in any partition and Region. The policies sit under ``path`` (the project's ``naming.managed_policy_path``: the
    one path the execution policy may create policies in) and are attached to ``role``. Raises ``ValueError`` when
    they would need more than the 10 managed policies a role may have by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role: iam.IRole,
        actions: Sequence[str],
        resources: Sequence[Sequence[str]],
        path: str,
        description: str,
    ) -> None:
        super().__init__(scope, construct_id)
        if not resources:
            raise ValueError(f"{description}: no resources to grant {', '.join(actions)} on")
        stack = Stack.of(self)

        def cost(arns: Sequence[str]) -> int:
            return sum(longest_length(stack.resolve(arn)) + _PER_ARN for arn in arns)

        runs = pack(resources, cost)
        if len(runs) > MANAGED_POLICIES_PER_ROLE:
            raise ValueError(
                f"{description}: {len(resources)} items need {len(runs)} managed policies of exact ARNs; IAM attaches "
                f"at most {MANAGED_POLICIES_PER_ROLE} to a role by default (IAM and AWS STS quotas): serve fewer "
                "models per environment, or split them across projects"
            )
        self.policies = [
            iam.ManagedPolicy(
                self,
                f"Part{index}",
                path=path,
                # Description is create-only (a change replaces the policy): it names the part, not its contents.
                description=f"{description} (part {index})",
                statements=[
                    iam.PolicyStatement(actions=list(actions), resources=[arn for item in run for arn in item])
                ],
                roles=[role],
            )
            for index, run in enumerate(runs, start=1)
        ]
