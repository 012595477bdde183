"""CodePipeline: the release pipeline's shape within CodePipeline's quotas.

The release pipeline (stacks/cicd_stack.py) deploys one action per stack; a platform of many models makes long
stages. CDK Pipelines splits a stage of more than 50 actions into ``<stage>.1``, ``<stage>.2``, ... , so the
quota that binds as models are added is the number of stages.
"""

from __future__ import annotations

from collections.abc import Mapping

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import properties, resources

PIPELINE = "AWS::CodePipeline::Pipeline"
STAGES_MAX = 50
ACTIONS_PER_STAGE_MAX = 50


class PipelineWithinQuotas(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """A pipeline has at most 50 stages, and each stage at most 50 actions.

    AWS doc: "Quotas in AWS CodePipeline": number of stages in a pipeline, minimum 2, maximum 50; number of actions
    in a stage, minimum 1, maximum 50 (also: at most 50 parallel and 50 sequential actions in a stage). CloudFormation
    accepts the template; CodePipeline refuses the pipeline when the stack creates or updates it. Judged on literal
    ``Stages`` and ``Actions`` lists (what CDK writes).
    """

    id = "E9090"
    shortdesc = "Pipeline over 50 stages or a stage over 50 actions"
    description = "A CodePipeline pipeline has at most 50 stages and each stage at most 50 actions"
    source_url = "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html"
    tags = ["mlops", "codepipeline", "quotas"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Every pipeline with a literal Stages list."""
        matches = []
        for logical_id, resource in resources(cfn.template, PIPELINE):
            stages = properties(resource).get("Stages")
            if not isinstance(stages, list):
                continue
            path: list[str | int] = ["Resources", logical_id, "Properties", "Stages"]
            if len(stages) > STAGES_MAX:
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical_id}: {len(stages)} stages; CodePipeline allows at most {STAGES_MAX} "
                        "(Quotas in AWS CodePipeline)",
                    )
                )
            for index, stage in enumerate(stages):
                actions = stage.get("Actions") if isinstance(stage, Mapping) else None
                if isinstance(actions, list) and len(actions) > ACTIONS_PER_STAGE_MAX:
                    matches.append(
                        RuleMatch(
                            [*path, index, "Actions"],
                            f"{logical_id}: stage {stage.get('Name')!r} has {len(actions)} actions; CodePipeline "
                            f"allows at most {ACTIONS_PER_STAGE_MAX} per stage (Quotas in AWS CodePipeline)",
                        )
                    )
        return matches
