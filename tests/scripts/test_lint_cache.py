"""scripts/synth_report.lint: cfn-lint across cores, and templates it already passed are not linted again."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripts import synth_report
from tests.cfn_rules.test_synth_report import ENV, _assembly, _function


def _templates(root: Path, stacks: dict[str, dict[str, Any]]) -> list[Path]:
    built = _assembly(root, {name: (ENV, resources) for name, resources in stacks.items()})
    return [r.template for r in synth_report.collect(built)]


def _count_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[Path]]:
    """Record the templates of every cfn-lint process started (and still start it)."""
    started: list[list[Path]] = []
    original = synth_report._run_cfn_lint

    def run(templates: list[Path]) -> subprocess.Popen[str]:
        started.append(list(templates))
        return original(templates)

    monkeypatch.setattr(synth_report, "_run_cfn_lint", run)
    return started


def test_a_template_passed_before_is_not_linted_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    (clean,) = _templates(tmp_path / "out", {"Fn": {"Fn": _function()}})
    started = _count_runs(monkeypatch)
    assert synth_report.lint([clean], cache_dir=cache) == []
    assert synth_report.lint([clean], cache_dir=cache) == []
    assert started == [[clean]]
    # One byte more is another template: linted again.
    clean.write_text(clean.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert synth_report.lint([clean], cache_dir=cache) == []
    assert len(started) == 2


def test_findings_are_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    (bad,) = _templates(tmp_path / "out", {"Fn": {"Fn": _function(ReservedConcurrentExecutions=1)}})
    started = _count_runs(monkeypatch)
    first = synth_report.lint([bad], cache_dir=cache)
    assert [":E9003:" in f for f in first] == [True]
    assert synth_report.lint([bad], cache_dir=cache) == first
    assert len(started) == 2
    assert not cache.exists() or not any(cache.iterdir())


def test_a_change_to_the_project_rules_or_cfn_lint_invalidates_every_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean,) = _templates(tmp_path / "out", {"Fn": {"Fn": _function()}})
    assert synth_report.lint_cache_key(clean, "cfn-lint 1\0rules a") != synth_report.lint_cache_key(
        clean, "cfn-lint 2\0rules a"
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rule.py").write_text("ID = 'E9999'\n", encoding="utf-8")
    monkeypatch.setattr(synth_report, "RULES_DIR", rules)
    before = synth_report._rules_digest()
    (rules / "rule.py").write_text("ID = 'E9998'\n", encoding="utf-8")
    assert synth_report._rules_digest() != before


def test_templates_are_linted_in_parallel_and_every_finding_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = _templates(
        tmp_path / "out",
        {
            "Bad1": {"Fn": _function(ReservedConcurrentExecutions=1)},
            "Bad2": {"Fn": _function(ReservedConcurrentExecutions=1)},
            "Clean": {"Fn": _function()},
        },
    )
    started = _count_runs(monkeypatch)
    findings = synth_report.lint(templates, cache_dir=None, workers=2)
    assert len(started) == 2
    assert sorted(t for group in started for t in group) == sorted(templates)
    assert sorted(f.split(":", 1)[0] for f in findings) == sorted(str(t) for t in templates if "Bad" in t.name)


@pytest.mark.parametrize(("configured", "expected"), [("3", 3), ("1", 1), ("0", None), ("two", None), ("", None)])
def test_lint_workers_default_to_the_cores_unless_configured(
    configured: str, expected: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINT_WORKERS", configured)
    cores = len(os.sched_getaffinity(0))
    assert synth_report.default_lint_workers() == (expected or cores)
    monkeypatch.delenv("LINT_WORKERS")
    assert synth_report.default_lint_workers() == cores


def test_groups_balance_template_bytes(tmp_path: Path) -> None:
    sizes = {"a": 900, "b": 500, "c": 400, "d": 100}
    paths = []
    for name, size in sizes.items():
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps({"x": "y" * size}), encoding="utf-8")
        paths.append(path)
    groups = synth_report._chunks(paths, 2)
    assert sorted(sorted(p.stem.split(".")[0] for p in group) for group in groups) == [["a", "d"], ["b", "c"]]
    assert synth_report._chunks(paths[:1], 2) == [[paths[0]]]
