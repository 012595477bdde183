"""IAM limits a role reaches as a platform grows: inline policy size, managed policy size, policies per role, and
the path where the CloudFormation execution policy lets managed policies be created."""

from __future__ import annotations

import fnmatch
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import EXECUTION_POLICY, as_list, iam_policy_characters, properties, referenced_id, resources

# "IAM and AWS STS quotas" (IAM User Guide): whitespace is not counted in either size; a role has 10 managed
# policies attached by default (a quota increase raises it to 20).
ROLE_INLINE_CHARACTERS = 10_240
MANAGED_POLICY_CHARACTERS = 6_144
MANAGED_POLICIES_PER_ROLE = 10

INLINE_TYPES = ("AWS::IAM::Policy", "AWS::IAM::RolePolicy")


def _role_ids(template: Mapping[str, Any]) -> dict[str, str]:
    """Every way a policy may name a role of ``template`` (its logical id, its literal ``RoleName``) -> logical id."""
    names = {}
    for logical_id, role in resources(template, "AWS::IAM::Role"):
        names[logical_id] = logical_id
        role_name = properties(role).get("RoleName")
        if isinstance(role_name, str):
            names[role_name] = logical_id
    return names


def _attached_roles(value: Any, names: Mapping[str, str]) -> set[str]:
    """Logical ids of this template's roles among a policy's ``Roles``/``RoleName`` (by Ref or literal name)."""
    found = set()
    for item in as_list(value or []):
        key = item if isinstance(item, str) else referenced_id(item)
        if key is not None and key in names:
            found.add(names[key])
    return found


def inline_policies(template: Mapping[str, Any]) -> dict[str, list[tuple[list[str | int], Any]]]:
    """role logical id -> [(path, policy document)] of every inline policy embedded in it.

    A role's own ``Policies`` and every ``AWS::IAM::Policy``/``AWS::IAM::RolePolicy`` of the template attached to
    it: IAM embeds them all in the role (PutRolePolicy), so they share the role's aggregate quota.
    """
    names = _role_ids(template)
    found: dict[str, list[tuple[list[str | int], Any]]] = defaultdict(list)
    for logical_id, role_resource in resources(template, "AWS::IAM::Role"):
        for index, policy in enumerate(as_list(properties(role_resource).get("Policies") or [])):
            if isinstance(policy, Mapping):
                path: list[str | int] = ["Resources", logical_id, "Properties", "Policies", index]
                found[logical_id].append((path, policy.get("PolicyDocument")))
    for logical_id, policy in resources(template, *INLINE_TYPES):
        props = properties(policy)
        for role in _attached_roles(props.get("Roles", props.get("RoleName")), names):
            found[role].append((["Resources", logical_id], props.get("PolicyDocument")))
    return dict(found)


def managed_policies(template: Mapping[str, Any]) -> dict[str, set[str]]:
    """role logical id -> the managed policies attached to it (ARNs or logical ids, each counted once)."""
    names = _role_ids(template)
    found: dict[str, set[str]] = defaultdict(set)
    for logical_id, role_resource in resources(template, "AWS::IAM::Role"):
        for arn in as_list(properties(role_resource).get("ManagedPolicyArns") or []):
            found[logical_id].add(referenced_id(arn) or str(arn))
    for logical_id, policy in resources(template, "AWS::IAM::ManagedPolicy"):
        for role in _attached_roles(properties(policy).get("Roles"), names):
            found[role].add(logical_id)
    return dict(found)


def _oversized_managed(template: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    for logical_id, policy in resources(template, "AWS::IAM::ManagedPolicy"):
        size = iam_policy_characters(properties(policy).get("PolicyDocument"))
        if size > MANAGED_POLICY_CHARACTERS:
            yield logical_id, size


class IamPolicySizeQuotas(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A role's policies stay within IAM's size and attachment quotas.

    AWS doc: "IAM and AWS STS quotas" (IAM User Guide): the inline policies of a role together hold at most
    10,240 characters, a managed policy 6,144, and a role has at most 10 managed policies attached (20 with a
    quota increase); whitespace is not counted. Past them IAM refuses PutRolePolicy/CreatePolicy/AttachRolePolicy
    with LimitExceeded, so the stack fails minutes into its deployment. A role whose grants grow with every model
    (one endpoint ARN per served model) reaches them at a size no small test shows.

    Sizes are a lower bound: literal text counts exactly, a pseudo parameter as its shortest value (``aws``,
    ``us-east-1``, a 12-digit account) and a reference to another resource as nothing, so the rule fires only on
    a policy that cannot fit. Only policies of the same template are seen.
    """

    id = "E9071"
    shortdesc = "IAM role policies over IAM's size or attachment quotas"
    description = (
        "A role's inline policies hold at most 10,240 characters, a managed policy 6,144, and a role has at most "
        "10 managed policies attached"
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
    tags = ["mlops", "iam", "quotas"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """One finding per role over a quota and per managed policy over its size."""
        template = cfn.template
        matches = []
        for role, documents in inline_policies(template).items():
            size = sum(iam_policy_characters(document) for _, document in documents)
            if size > ROLE_INLINE_CHARACTERS:
                matches.append(
                    RuleMatch(
                        ["Resources", role],
                        f"role {role}: its {len(documents)} inline policies hold at least {size} characters, over "
                        f"IAM's {ROLE_INLINE_CHARACTERS} for a role (IAM and AWS STS quotas); move statements to "
                        "customer managed policies",
                    )
                )
        for role, attached in managed_policies(template).items():
            if len(attached) > MANAGED_POLICIES_PER_ROLE:
                matches.append(
                    RuleMatch(
                        ["Resources", role],
                        f"role {role}: {len(attached)} managed policies attached, over IAM's default "
                        f"{MANAGED_POLICIES_PER_ROLE} per role (IAM and AWS STS quotas; 20 only after a quota "
                        "increase)",
                    )
                )
        for policy, size in _oversized_managed(template):
            matches.append(
                RuleMatch(
                    ["Resources", policy, "Properties", "PolicyDocument"],
                    f"managed policy {policy}: at least {size} characters, over IAM's {MANAGED_POLICY_CHARACTERS} "
                    "for a managed policy (IAM and AWS STS quotas)",
                )
            )
        return matches


@cache
def policy_patterns(execution_policy: Path = EXECUTION_POLICY) -> tuple[str, ...]:
    """The Resource patterns of the execution policy's Allow statements that grant ``iam:CreatePolicy``."""
    if not execution_policy.is_file():
        return ()
    document = json.loads(execution_policy.read_text(encoding="utf-8"))
    patterns: list[str] = []
    for statement in as_list(document.get("Statement") or []):
        actions = [str(a) for a in as_list(statement.get("Action") or [])]
        if statement.get("Effect") == "Allow" and any(fnmatch.fnmatchcase("iam:CreatePolicy", a) for a in actions):
            patterns += [str(r) for r in as_list(statement.get("Resource") or [])]
    return tuple(patterns)


def _policy_arn(props: Mapping[str, Any]) -> str | None:
    """The ARN a managed policy gets, in the ``aws`` partition of any account; ``None`` when its path is a token."""
    path = props.get("Path", "/")
    name = props.get("ManagedPolicyName", "generated-by-cloudformation")
    if not isinstance(path, str) or not isinstance(name, str):
        return None
    return f"arn:aws:iam::111111111111:policy{path}{name}"


class ManagedPolicyPathAllowed(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """Every customer managed policy of a template is one the CloudFormation execution policy may create.

    The project deploys with bootstrap/execution-policy.json, which allows ``iam:CreatePolicy`` only under the
    project's path (``policy/mlops/*``; the permissions boundary and the execution policy itself sit at ``/``, out
    of its reach). A managed policy elsewhere, such as the ``OverflowPolicy`` CDK splits off a role's default
    policy on its own (at ``/``), fails the deploy with AccessDenied. AWS doc: "AWS::IAM::ManagedPolicy" (its
    ``Path`` and the handler permissions of its registry schema) and "IAM identifiers" (paths in policy ARNs).
    """

    id = "E9072"
    shortdesc = "Managed policy outside the path the execution policy may create policies in"
    description = "CloudFormation's execution role may create customer managed policies only under the project's path"
    source_url = (
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-managedpolicy.html"
    )
    tags = ["mlops", "iam"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """One finding per managed policy whose ARN no CreatePolicy pattern of the execution policy matches."""
        patterns = policy_patterns()
        if not patterns:
            return []
        matches = []
        for logical_id, policy in resources(cfn.template, "AWS::IAM::ManagedPolicy"):
            arn = _policy_arn(properties(policy))
            if arn is not None and not any(
                fnmatch.fnmatchcase(arn, p.replace("arn:*:", "arn:aws:", 1)) for p in patterns
            ):
                path = properties(policy).get("Path", "/")
                matches.append(
                    RuleMatch(
                        ["Resources", logical_id],
                        f"managed policy {logical_id}: path {path!r} is outside where the CloudFormation execution "
                        f"policy (bootstrap/execution-policy.json) may create policies ({', '.join(patterns)}): the "
                        "deploy would fail on iam:CreatePolicy (mlops_constructs/managed_policies.py)",
                    )
                )
        return matches
