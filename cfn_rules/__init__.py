"""The project's synth-time rules: AWS rules that cfn-lint and cdk-nag do not know.

Two layers, both run by ``scripts/synth_report.py`` (``make synth``):

- cfn-lint custom rules (one module per resource family in this folder, ids ``E90xx``), loaded with
  ``cfn-lint --append-rules cfn_rules``. They see each template exactly as CloudFormation receives it: resolved
  cross-stack tokens (``Fn::GetStackOutput``), pipeline definitions rendered into ``AWS::SageMaker::Pipeline``.
- assembly checks (``_assembly.py``, ids ``E91xx``) over all templates of one account and Region, which the
  cloud assembly manifest names per stack (``aws://account/region``): per-bus quotas summed over stacks,
  monitors pointed at a serverless endpoint of another stack, models read from another account.

Each rule's docstring names the AWS documentation page (title) it encodes.
"""

from __future__ import annotations

from pathlib import Path

from cfn_rules._assembly import ASSEMBLY_CHECKS, AssemblyFinding, StackTemplate, check_assembly

RULES_DIR = Path(__file__).resolve().parent


def load_rules() -> list[object]:
    """The cfn-lint rule objects of this folder, loaded the way ``--append-rules`` loads them."""
    from cfnlint.helpers import load_plugins

    rules: list[object] = load_plugins(str(RULES_DIR))
    return sorted(rules, key=lambda rule: str(getattr(rule, "id", "")))


def rule_ids() -> list[str]:
    """Ids of the cfn-lint rules of this folder, sorted."""
    return [str(getattr(rule, "id", "")) for rule in load_rules()]


__all__ = [
    "ASSEMBLY_CHECKS",
    "RULES_DIR",
    "AssemblyFinding",
    "StackTemplate",
    "check_assembly",
    "load_rules",
    "rule_ids",
]
