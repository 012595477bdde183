"""The gates every synth passes: cdk-nag with reasons, cfn-lint and the project rules, determinism, no machine paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from scripts.synth_report import ACK_METADATA, assembly_findings, collect, lint, project_findings
from tests.conftest import cdk_feature_flags
from tests.infra.acknowledgements import assert_reviewed_reasons


def _outdir(app: Any) -> Path:
    return Path(app.outdir)


def test_nag_gate_fails_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    """Positive control: the same plugin registration that build_platform uses does fail on a finding."""
    app = cdk.App(context=cdk_feature_flags(), outdir=str(tmp_path))
    stack = cdk.Stack(app, "Insecure")
    s3.Bucket(stack, "PlainBucket")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="AwsSolutions-S10"):
        app.synth()


def test_whole_platform_has_no_unacknowledged_findings_and_every_acknowledgement_has_a_reason(
    approved_app: Any,
) -> None:
    app, _ = approved_app
    report = json.loads((_outdir(app) / "validation-report.json").read_text(encoding="utf-8"))
    reports = report.get("pluginReports", [])
    assert [r["pluginName"] for r in reports] == ["AwsSolutions"]
    assert [(r["conclusion"], r["violations"]) for r in reports] == [("success", [])]
    reasons: list[str] = []
    for metadata_file in _outdir(app).rglob("*.metadata.json"):
        for entries in json.loads(metadata_file.read_text(encoding="utf-8")).values():
            for entry in entries:
                if entry["type"] == ACK_METADATA:
                    reasons.extend(entry["data"].values())
    assert reasons, "expected at least the access-log bucket's acknowledgement"
    assert_reviewed_reasons("platform", reasons)


CANARY = "ProjectRuleCanary"


@pytest.fixture(scope="module")
def linted(approved_app: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[str]]:
    """Every template of the approved app, each copied with one planted project-rule violation (a Lambda function
    with reserved concurrency, E9003), and the findings of one cfn-lint pass over the copies.

    One pass answers three questions: cfn-lint finds nothing in the real resources, the project rules find nothing
    in them, and the project rules do run on every template (the canary is found in each copy). The canary adds a
    resource and changes none, so a finding anywhere else is a finding on the real template.
    """
    app, _ = approved_app
    out = tmp_path_factory.mktemp("gates")
    copies = []
    for report in collect(_outdir(app)):
        template = json.loads(report.template.read_text(encoding="utf-8"))
        template["Resources"][CANARY] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": {"ZipFile": "def handler(event, context):\n    return None\n"},
                "Role": "arn:aws:iam::111111111111:role/canary",
                "Handler": "index.handler",
                "Runtime": "python3.12",
                "ReservedConcurrentExecutions": 1,
            },
        }
        copy = out / report.template.name
        copy.write_text(json.dumps(template), encoding="utf-8")
        copies.append(copy)
    return copies, lint(copies, cache_dir=None)


def _on_real_resources(findings: list[str]) -> list[str]:
    return [f for f in findings if f" {CANARY} " not in f and f"/{CANARY}/" not in f and f":{CANARY} " not in f]


def test_cfn_lint_is_clean_on_every_template(approved_app: Any, linted: tuple[list[Path], list[str]]) -> None:
    app, _ = approved_app
    # data and the model stack (serving and monitoring) per environment, and dev's two training stacks
    assert len(collect(_outdir(app))) == len(linted[0]) == 8
    findings = _on_real_resources(linted[1])
    # The project rules run in the same pass; their contract is the test below.
    assert [f for f in findings if f not in project_findings(findings)] == []


def test_every_stack_is_well_within_cloudformation_limits(approved_app: Any) -> None:
    app, _ = approved_app
    for report in collect(_outdir(app)):
        assert report.resources <= 250, report.path
        assert report.template_bytes <= 500_000, report.path


def test_project_rules_find_nothing_on_every_template_of_every_stack_kind(
    approved_app: Any, linted: tuple[list[Path], list[str]]
) -> None:
    """The final contract of issue 11: the rule pack (cfn_rules/) runs over every template and nothing fires."""
    app, _ = approved_app
    reports = collect(_outdir(app))
    kinds = {r.path.split("/", 1)[-1].split("-", 1)[0] for r in reports}
    assert {"Data", "Training", "Serving"} <= kinds  # Serving-<model>: the model stacks, monitoring included
    assert all(r.account and r.region for r in reports), "every stack has an environment for the assembly checks"
    findings = project_findings(_on_real_resources(linted[1]))
    assembly = [str(finding) for finding in assembly_findings(reports)]
    assert findings + assembly == []


def test_project_rules_run_on_every_template_of_every_stack_kind(linted: tuple[list[Path], list[str]]) -> None:
    """Positive control: the violation planted in the copy of each real template is found in each of them, by its
    rule and nothing else."""
    copies, findings = linted
    canaries = [f for f in findings if f not in _on_real_resources(findings)]
    assert all(f":E9003:{CANARY} " in f for f in canaries), canaries
    assert sorted(f.split(":", 1)[0] for f in canaries) == sorted(str(c) for c in copies)
