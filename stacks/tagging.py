"""Cost-allocation tags on every resource of a scope."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from constructs import IConstruct

# The TagManager resource type of a Stack itself.
_STACK = "aws:cdk:stack"


def tag_resources(scope: IConstruct, tags: Mapping[str, str]) -> None:
    """Tag every taggable resource under ``scope``, but not the stacks.

    A stack-level tag would reach the same resources through CloudFormation's tag propagation, but CDK Pipelines
    then attaches a template-configuration file to every deploy action: at 50 models that alone pushes the release
    pipeline's template past 500 KB.
    """
    for key, value in sorted(tags.items()):
        cdk.Tags.of(scope).add(key, value, exclude_resource_types=[_STACK])
