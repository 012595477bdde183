"""IAM policy statements on KMS keys that name the key in a way IAM never matches."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import as_list, properties, resources, walk

# Actions that act on aliases themselves: for them an alias ARN is the right Resource.
ALIAS_ACTIONS = frozenset({"kms:createalias", "kms:updatealias", "kms:deletealias", "kms:listaliases"})


def _documents(template: Mapping[str, Any]) -> Iterator[tuple[list[str | int], Any]]:
    """(path, policy document) of every identity policy in the template: policies, managed policies, inline."""
    for logical_id, resource in resources(
        template, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"
    ):
        yield ["Resources", logical_id, "Properties", "PolicyDocument"], properties(resource).get("PolicyDocument")
    for logical_id, resource in resources(template, "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        for index, policy in enumerate(as_list(properties(resource).get("Policies") or [])):
            if isinstance(policy, Mapping):
                path: list[str | int] = ["Resources", logical_id, "Properties", "Policies", index, "PolicyDocument"]
                yield path, policy.get("PolicyDocument")


def _misnamed_literal(resource: str) -> str | None:
    # Key IDs and bare alias names are not ARNs at all: cfn-lint's E3510 reports those.
    if resource.startswith("arn:") and ":kms:" in resource and ":alias/" in resource:
        return f"{resource!r} is an alias ARN"
    return None


def _misnamed_ref(target: str, template: Mapping[str, Any]) -> str | None:
    found = (template.get("Resources") or {}).get(target)
    kind = found.get("Type") if isinstance(found, Mapping) else None
    if kind == "AWS::KMS::Key":
        return f"Ref {target} is the key ID (use Fn::GetAtt {target}.Arn)"
    return f"Ref {target} is an alias name" if kind == "AWS::KMS::Alias" else None


def misnamed_key(resource: Any, template: Mapping[str, Any]) -> str | None:
    """Why a statement Resource names a KMS key by something other than its key ARN, else ``None``."""
    if isinstance(resource, str):
        return _misnamed_literal(resource)
    if isinstance(resource, Mapping) and isinstance(resource.get("Ref"), str) and len(resource) == 1:
        return _misnamed_ref(str(resource["Ref"]), template)
    if isinstance(resource, Mapping) and ("Fn::Join" in resource or "Fn::Sub" in resource):
        text = "".join(node for _, node in walk(resource) if isinstance(node, str))
        if ":kms:" in text and ":alias/" in text:
            return "the joined ARN is an alias ARN"
    return None


class KmsKeyByKeyArnInIamPolicies(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """IAM policy statements name KMS keys by key ARN.

    AWS doc: "Specifying KMS keys in IAM policy statements" (AWS KMS Developer Guide): to specify a KMS key in an
    IAM policy statement you must use its key ARN; a key ID, alias name or alias ARN does not identify the key
    (use an alias ARN only for alias operations such as CreateAlias; control access by alias with the
    ``kms:RequestAlias``/``kms:ResourceAliases`` condition keys). Such a statement silently grants nothing, and
    the principal is denied at run time. Flags alias ARNs (literal or joined), and ``Ref`` of an
    ``AWS::KMS::Key`` (its key ID) or ``AWS::KMS::Alias`` (its name); a literal key ID or alias name is not an
    ARN, which cfn-lint's own E3510 already reports.
    """

    id = "E9070"
    shortdesc = "KMS key named by alias or key ID in an IAM policy statement"
    description = "IAM policy statements must name KMS keys by key ARN; aliases and key IDs match nothing"
    source_url = "https://docs.aws.amazon.com/kms/latest/developerguide/cmks-in-iam-policies.html"
    tags = ["mlops", "iam", "kms"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Allow and Deny statements with a kms: action (other than alias operations)."""
        matches = []
        for path, document in _documents(cfn.template):
            statements = document.get("Statement") if isinstance(document, Mapping) else None
            for index, statement in enumerate(as_list(statements or [])):
                if not isinstance(statement, Mapping):
                    continue
                actions = [str(a).lower() for a in as_list(statement.get("Action")) if isinstance(a, str)]
                kms_actions = [a for a in actions if a.startswith("kms:") and a not in ALIAS_ACTIONS]
                if not kms_actions:
                    continue
                for resource in as_list(statement.get("Resource")):
                    why = misnamed_key(resource, cfn.template)
                    if why:
                        matches.append(
                            RuleMatch(
                                [*path, "Statement", index, "Resource"],
                                f"{path[1]} statement {statement.get('Sid') or index}: {why}; IAM matches KMS keys "
                                "only by key ARN (Specifying KMS keys in IAM policy statements)",
                            )
                        )
        return matches
