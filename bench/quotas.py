"""The project rule pack over a scaled configuration, and the event-bus quotas per bus at 50 and 200 models.

Two measurements, both over synthesized cloud assemblies:

- ``rule_pack(outdir)``: the same pass as ``make synth`` (cfn-lint with the project rules of ``cfn_rules/``,
  then the assembly checks per account and Region), timed, with the findings counted by rule.
- ``bus_facts(outdir)``: per event bus of every account and Region, the characters of the bus policy all stacks
  add up to (quota 10,240, "Amazon EventBridge quotas") and the rules with wildcard filters (quota 30, not
  adjustable), computed with the same functions as the assembly checks E9101/E9102.

The quota synths are bounded: one cold run per (model count, environment), each environment on its own
(``-c env=NAME``: that environment's stacks only, no CI/CD stack), and only the environments given (default dev
and prod: dev's training stacks carry the retraining bus policy, prod's monitoring stacks the Model Monitor
bridge rules). Each environment deploys into its own account, which is the scope the quotas count in.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import gen_config

QUOTA_MODELS = (50, 200)
QUOTA_ENVIRONMENTS = ("dev", "prod")
POLICY_CHARACTERS_QUOTA = 10_240
WILDCARD_RULES_QUOTA = 30
_RULE_ID = re.compile(r":(E9\d{3}):")

# synth(context extra) -> (wall seconds, error or None, output directory); bench.run.synth_once bound to a workspace.
Synth = Callable[[Mapping[str, str]], tuple[float, str | None, Path]]


def _stacks(outdir: Path) -> list[Any]:
    from cfn_rules import StackTemplate
    from scripts.synth_report import collect

    return [
        StackTemplate(
            path=r.path, account=r.account, region=r.region, template=json.loads(r.template.read_text(encoding="utf-8"))
        )
        for r in collect(outdir)
    ]


def bus_facts(outdir: Path) -> list[dict[str, Any]]:
    """Per (account, region, bus): bus-policy characters and wildcard rules summed over every stack of ``outdir``."""
    from cfn_rules._assembly import bus_policy_sizes, wildcard_rule_counts

    stacks = _stacks(outdir)
    sizes, wildcards = bus_policy_sizes(stacks), wildcard_rule_counts(stacks)
    return [
        {
            "account": account,
            "region": region,
            "bus": bus,
            "policy_chars": sizes.get((account, region, bus), 0),
            "wildcard_rules": wildcards.get((account, region, bus), 0),
        }
        for account, region, bus in sorted(set(sizes) | set(wildcards))
    ]


def merge_facts(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of separate synths (one per environment) added up per (account, region, bus)."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["account"], row["region"], row["bus"])
        entry = merged.setdefault(
            key, {"account": key[0], "region": key[1], "bus": key[2], "policy_chars": 0, "wildcard_rules": 0}
        )
        entry["policy_chars"] += row["policy_chars"]
        entry["wildcard_rules"] += row["wildcard_rules"]
    return [merged[key] for key in sorted(merged)]


def largest(rows: Sequence[Mapping[str, Any]], key: str) -> int:
    """The largest ``key`` over all buses; ``0`` when no bus has a policy statement or a wildcard rule."""
    return max((int(row[key]) for row in rows), default=0)


def rule_pack(outdir: Path) -> dict[str, Any]:
    """The project rule pack over every template of ``outdir``: wall time, templates, findings by rule."""
    from cfn_rules import ASSEMBLY_CHECKS, rule_ids
    from scripts.synth_report import assembly_findings, collect, lint, project_findings

    reports = collect(outdir)
    start = time.perf_counter()
    findings = lint([r.template for r in reports], cache_dir=None)  # the whole pack's cost, nothing cached
    assembly = assembly_findings(reports)
    seconds = time.perf_counter() - start
    project = project_findings(findings)
    by_rule = Counter(match.group(1) for f in project if (match := _RULE_ID.search(f)))
    by_rule.update(finding.rule for finding in assembly)
    return {
        "seconds": seconds,
        "templates": len(reports),
        "rules_ran": len(rule_ids()) + len(ASSEMBLY_CHECKS),
        "project_findings": len(project) + len(assembly),
        "cfn_lint_findings": len(findings) - len(project),
        "by_rule": dict(sorted(by_rule.items())),
    }


def measure_quotas(synth: Synth, scratch: Path, models: Sequence[int], environments: Sequence[str]) -> dict[str, Any]:
    """For each model count, synthesize each environment once and sum the bus facts per account and bus."""
    points = []
    for count in models:
        config_path, approved_path = gen_config.write_scale_inputs(count, scratch / "quota-configs", with_cicd=False)
        rows: list[dict[str, Any]] = []
        synths: list[dict[str, Any]] = []
        for environment in environments:
            print(f"quotas: {count} models, environment {environment} (1 cold run)", flush=True)
            context = {"config": str(config_path), "approved_models": str(approved_path), "env": environment}
            seconds, error, outdir = synth(context)
            complete = error is None or "ValidationFailed" in error
            if complete and (outdir / "manifest.json").exists():
                rows.extend(bus_facts(outdir))
            synths.append({"environment": environment, "seconds": seconds, "error": error})
            shutil.rmtree(outdir, ignore_errors=True)
        measured = all(s["error"] is None or "ValidationFailed" in str(s["error"]) for s in synths)
        facts = merge_facts(rows)
        points.append(
            {
                "models": count,
                "environments": list(environments),
                "synths": synths,
                "buses": facts,
                "max_policy_chars": largest(facts, "policy_chars") if measured else None,
                "max_wildcard_rules": largest(facts, "wildcard_rules") if measured else None,
            }
        )
    return {
        "points": points,
        "quotas": {"policy_chars": POLICY_CHARACTERS_QUOTA, "wildcard_rules": WILDCARD_RULES_QUOTA},
    }


# "Quotas in AWS CodePipeline" (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html): number of
# stages in a pipeline, maximum 50; number of actions in a stage, maximum 50; maximum size of input artifacts for
# AWS CloudFormation actions, 256 MB (each deploy action's input is the synth step's output: the cloud assembly).
PIPELINE_STAGES_QUOTA = 50
ACTIONS_PER_STAGE_QUOTA = 50
CLOUDFORMATION_INPUT_ARTIFACT_BYTES = 256 * 1024 * 1024
PIPELINE = "AWS::CodePipeline::Pipeline"


def assembly_bytes(outdir: Path) -> int:
    """Bytes of every file of the cloud assembly ``outdir``: the synth step's output artifact before zipping."""
    return sum(path.stat().st_size for path in outdir.rglob("*") if path.is_file())


def pipeline_facts(outdir: Path) -> dict[str, Any] | None:
    """The release pipeline of ``outdir`` (its Cicd stack) against CodePipeline's quotas, or None without one.

    Stages and actions per stage as the pipeline resource declares them (CDK Pipelines splits a deployment of more
    than 50 actions into stages ``<env>.1``, ``<env>.2``, ...), and the size of the artifact every deploy action reads.
    """
    template_path = outdir / "Cicd.template.json"
    if not template_path.exists():
        return None
    template = json.loads(template_path.read_text(encoding="utf-8"))
    pipelines = [r for r in template.get("Resources", {}).values() if r.get("Type") == PIPELINE]
    if not pipelines:
        return None
    stages = [
        {"name": stage["Name"], "actions": len(stage.get("Actions", []))}
        for pipeline in pipelines
        for stage in pipeline["Properties"]["Stages"]
    ]
    return {
        "stages": len(stages),
        "max_actions_per_stage": max(stage["actions"] for stage in stages),
        "actions": sum(stage["actions"] for stage in stages),
        "stage_actions": stages,
        "template_bytes": template_path.stat().st_size,
        "assembly_bytes": assembly_bytes(outdir),
        "quotas": {
            "stages": PIPELINE_STAGES_QUOTA,
            "actions_per_stage": ACTIONS_PER_STAGE_QUOTA,
            "cloudformation_input_artifact_bytes": CLOUDFORMATION_INPUT_ARTIFACT_BYTES,
        },
    }
