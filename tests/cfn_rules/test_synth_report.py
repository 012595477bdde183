"""scripts/synth_report.py runs the project rules in the cfn-lint pass and the assembly checks, and counts them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import cfn_rules
from scripts import synth_report

ROLE_STATEMENT = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}


def _function(**extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Code": {"ZipFile": "def handler(event, context):\n    return None\n"},
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Handler": "index.handler",
            "Runtime": "python3.12",
            **extra,
        },
    }


def _assembly(root: Path, stacks: dict[str, tuple[str, dict[str, Any]]]) -> Path:
    """A cloud assembly with one stack artifact per entry: name -> (environment, resources)."""
    root.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for name, (environment, extra) in stacks.items():
        resources = {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [ROLE_STATEMENT]}},
            },
            **extra,
        }
        (root / f"{name}.template.json").write_text(json.dumps({"Resources": resources}), encoding="utf-8")
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": environment,
            "properties": {"templateFile": f"{name}.template.json"},
            "displayName": f"dev/{name}",
        }
    (root / "manifest.json").write_text(json.dumps({"version": "1", "artifacts": artifacts}), encoding="utf-8")
    return root


ENV = "aws://111111111111/eu-west-1"


def test_collect_reads_each_stacks_account_and_region(tmp_path: Path) -> None:
    root = _assembly(
        tmp_path / "out", {"Fn": (ENV, {"Fn": _function()}), "Agnostic": ("aws://unknown-account/unknown-region", {})}
    )
    reports = {r.path: r for r in synth_report.collect(root)}
    assert (reports["dev/Fn"].account, reports["dev/Fn"].region) == ("111111111111", "eu-west-1")
    assert (reports["dev/Agnostic"].account, reports["dev/Agnostic"].region) == (None, None)


def test_lint_runs_the_project_rules_through_append_rules(tmp_path: Path) -> None:
    root = _assembly(tmp_path / "out", {"Fn": (ENV, {"Fn": _function(ReservedConcurrentExecutions=1)})})
    findings = synth_report.lint([r.template for r in synth_report.collect(root)])
    assert synth_report.project_findings(findings) == findings
    assert [":E9003:" in f for f in findings] == [True]


def test_main_prints_rules_ran_and_fired_and_fails_on_a_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _assembly(tmp_path / "bad", {"Fn": (ENV, {"Fn": _function(ReservedConcurrentExecutions=1)})})
    assert synth_report.main([str(root)]) == 1
    out, err = capsys.readouterr()
    ran = len(cfn_rules.rule_ids()) + len(cfn_rules.ASSEMBLY_CHECKS)
    assert f"project rules: {ran} ran (" in out
    assert out.rstrip().endswith(", 1 fired")
    assert "E9003" in err


def test_main_passes_a_clean_assembly_with_zero_fired(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _assembly(tmp_path / "good", {"Fn": (ENV, {"Fn": _function()})})
    assert synth_report.main([str(root)]) == 0
    out, _ = capsys.readouterr()
    assert "0 fired" in out
    assert "cfn-lint: 0 findings" in out


def test_main_fails_on_an_assembly_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arn = "arn:aws:sagemaker:eu-west-1:999999999999:model-package/g/1"
    model = {
        "Type": "AWS::SageMaker::Model",
        "Properties": {
            "ExecutionRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            "PrimaryContainer": {"ModelPackageName": arn},
        },
    }
    root = _assembly(tmp_path / "cross", {"Serving": (ENV, {"Model": model})})
    assert synth_report.main([str(root)]) == 1
    out, err = capsys.readouterr()
    assert "1 fired" in out
    assert "E9104" in err


def test_every_rule_has_an_id_in_the_project_range_a_doc_and_a_source_url() -> None:
    rules = cfn_rules.load_rules()
    ids = [str(getattr(r, "id", "")) for r in rules]
    assert len(ids) == len(set(ids)) >= 12
    for rule in rules:
        assert str(getattr(rule, "id", "")).startswith("E90")
        assert getattr(rule, "source_url", "").startswith("https://")
        doc = type(rule).__doc__ or ""
        assert '"' in doc or "github.com" in doc, f"{type(rule).__name__} cites no AWS doc page title"
    assert len(ids) + len(cfn_rules.ASSEMBLY_CHECKS) >= 14
