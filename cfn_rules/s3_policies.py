"""Bucket policies that enforce conditional writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import action_allows, as_list, properties, resources

IF_NONE_MATCH = "s3:if-none-match"
IF_MATCH = "s3:if-match"
CREATION_OPERATION = "s3:objectcreationoperation"


def condition_keys(condition: Any) -> set[str]:
    """The condition keys (lower case) a statement's Condition block tests, under any operator."""
    keys: set[str] = set()
    if isinstance(condition, Mapping):
        for block in condition.values():
            if isinstance(block, Mapping):
                keys.update(str(key).lower() for key in block)
    return keys


class ConditionalWriteDenyExemptsMultipart(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type
    """A bucket-policy Deny of ``s3:PutObject`` on ``s3:if-none-match`` also conditions on
    ``s3:ObjectCreationOperation``.

    AWS doc: "Enforce conditional writes on Amazon S3 buckets" (S3 User Guide): for multipart uploads you must
    specify the ``s3:ObjectCreationOperation`` condition key to exempt CreateMultipartUpload, UploadPart and
    UploadPartCopy, as these APIs don't accept conditional headers. A Deny that tests only ``s3:if-none-match``
    (or ``s3:if-match``) denies every part upload, so large objects can never be written.
    """

    id = "E9080"
    shortdesc = "Conditional-write Deny that also denies multipart part uploads"
    description = "A Deny of s3:PutObject on s3:if-none-match must condition on s3:ObjectCreationOperation too"
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html"
    tags = ["mlops", "s3", "policy"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every Deny statement of every bucket policy."""
        matches = []
        for logical_id, resource in resources(cfn.template, "AWS::S3::BucketPolicy"):
            document = properties(resource).get("PolicyDocument")
            statements = document.get("Statement") if isinstance(document, Mapping) else None
            for index, statement in enumerate(as_list(statements or [])):
                if not isinstance(statement, Mapping) or statement.get("Effect") != "Deny":
                    continue
                if not any(action_allows(a, "s3:PutObject") for a in as_list(statement.get("Action"))):
                    continue
                keys = condition_keys(statement.get("Condition"))
                if keys & {IF_NONE_MATCH, IF_MATCH} and CREATION_OPERATION not in keys:
                    matches.append(
                        RuleMatch(
                            ["Resources", logical_id, "Properties", "PolicyDocument", "Statement", index],
                            f"{logical_id} statement {statement.get('Sid') or index} denies s3:PutObject on a "
                            "conditional-write header without s3:ObjectCreationOperation: multipart part uploads "
                            "carry no such header and are denied (Enforce conditional writes on Amazon S3 buckets)",
                        )
                    )
        return matches
