"""The benchmark's targets, how each is judged from a report, and the report as a readable Markdown page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# CloudFormation's hard per-stack limits.
CFN_LIMITS = {"resources": 500, "template_bytes": 1_000_000, "outputs": 200, "parameters": 200}


@dataclass(frozen=True)
class Target:
    """One benchmark goal: a measured value must stay at or under ``limit``."""

    key: str
    description: str
    limit: float
    unit: str


TARGETS = (
    Target("synth_ratio", "full default synth / one-bucket app synth", 1.6, "x"),
    Target("seconds_per_model", "synth time per added model (least-squares slope)", 0.5, "s"),
    Target("max_resources_at_scale", "most resources in one stack at the largest model count", 250, "resources"),
    Target("max_template_kb_at_scale", "largest template at the largest model count", 500, "KB"),
    Target("handler_import_ms", "slowest Lambda handler import (median)", 100, "ms"),
    Target("asset_kb", "largest Lambda asset (zipped)", 50, "KB"),
    Target("test_suite_s", "whole test suite wall time (make test: pytest -n 2 --dist worksteal)", 60, "s"),
    Target(
        "rule_pack_findings_at_scale",
        "project-rule findings over every template at the largest model count",
        0,
        "findings",
    ),
    Target("bus_policy_chars_50", "largest event-bus policy at 50 models (quota 10,240 characters)", 10_240, "chars"),
    Target("bus_policy_chars_200", "largest event-bus policy at 200 models (quota 10,240 characters)", 10_240, "chars"),
    Target("wildcard_rules_50", "most wildcard rules on one event bus at 50 models (quota 30)", 30, "rules"),
    Target("wildcard_rules_200", "most wildcard rules on one event bus at 200 models (quota 30)", 30, "rules"),
    # Issue 18, items 1, 2 and 5.
    Target("first_run_s", "fresh clone to the make-synth summary (empty package caches)", 180, "s"),
    Target("first_run_venv_gib", "virtualenv after that first make synth (du, GiB)", 1.2, "GiB"),
    Target("cold_warm_ratio_50", "cold synth (empty render cache) / warm synth at 50 models", 1.5, "x"),
    Target(
        "gates_ratio_50",
        "synth + gates (synth_report: cfn-lint, rules) / bare synth at 50 models, empty lint cache",
        1.5,
        "x",
    ),
    Target(
        "gates_ratio_50_warm",
        "synth + gates / bare synth at 50 models, templates passed before (lint cache filled)",
        1.5,
        "x",
    ),
    # Issue 18, item 3: stacks per model, and the release pipeline for 50 models within "Quotas in AWS CodePipeline"
    # (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html).
    Target("stacks_per_model", "stacks per added model across the three environments (scale slope)", 4, "stacks"),
    Target("pipeline_stages_50", "release pipeline stages at 50 models (quota 50 per pipeline)", 50, "stages"),
    Target(
        "pipeline_actions_per_stage_50", "most actions in one pipeline stage at 50 models (quota 50)", 50, "actions"
    ),
    Target(
        "pipeline_artifact_mb_50",
        "deploy actions' input artifact (the cloud assembly, unzipped) at 50 models (quota 256 MB)",
        256,
        "MB",
    ),
    Target("cicd_template_kb_50", "pipeline stack template at 50 models (own target; CloudFormation: 1 MB)", 500, "KB"),
)
MIB = 1024**2
GIB = 1024**3


def _point(scale: Mapping[str, Any], models: int) -> Mapping[str, Any]:
    return next((p for p in scale.get("points", []) if int(p["models"]) == models), {})


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def gate_ratio(point: Mapping[str, Any], kind: str) -> float | None:
    """(warm synth + the gates' ``kind`` time) / warm synth at one scale point."""
    gates = point.get("gates") or {}
    synth = point.get("median_s")
    if synth is None or gates.get(f"{kind}_s") is None or gates.get("error"):
        return None
    return float(synth + gates[f"{kind}_s"]) / float(synth)


def stacks_per_model(scale: Mapping[str, Any]) -> float | None:
    """Stacks added per model between the smallest and the largest measured model count."""
    points = sorted(
        ((int(p["models"]), len(p["stacks"])) for p in scale.get("points", []) if p.get("stacks")),
    )
    if len(points) < 2 or points[0][0] == points[-1][0]:
        return None
    (first_models, first_stacks), (last_models, last_stacks) = points[0], points[-1]
    return (last_stacks - first_stacks) / (last_models - first_models)


def stack_facts(path: str, resources: int, outputs: int, parameters: int, template_bytes: int) -> dict[str, Any]:
    """A stack's size facts and which CloudFormation limits it breaks (none, normally)."""
    facts: dict[str, Any] = {
        "path": path,
        "resources": resources,
        "outputs": outputs,
        "parameters": parameters,
        "template_bytes": template_bytes,
    }
    facts["over_limits"] = [name for name, limit in CFN_LIMITS.items() if facts[name] > limit]
    return facts


def measured_values(report: Mapping[str, Any]) -> dict[str, float | None]:
    """The value each target is judged on, or ``None`` where the run did not measure it."""
    full = report.get("synth", {}).get("full", {})
    scale = report.get("scale", {})
    largest = max((p for p in scale.get("points", []) if p.get("stacks")), key=lambda p: int(p["models"]), default=None)
    handlers = [h for h in report.get("lambda", []) if h.get("import_ms") is not None]
    assets = [h["asset_bytes"] for h in report.get("lambda", [])]
    tests = report.get("tests") or {}
    pack = (largest or {}).get("rule_pack") or {}
    quota_points = {int(p["models"]): p for p in (report.get("quotas") or {}).get("points", [])}
    first_run = report.get("first_run") or {}
    first_ok = not first_run.get("error")
    at_50 = _point(scale, 50)
    pipeline_50 = at_50.get("pipeline") or {}
    return {
        "synth_ratio": full.get("ratio_to_floor"),
        "seconds_per_model": scale.get("seconds_per_model"),
        "max_resources_at_scale": max(s["resources"] for s in largest["stacks"]) if largest else None,
        "max_template_kb_at_scale": max(s["template_bytes"] for s in largest["stacks"]) / 1000 if largest else None,
        "handler_import_ms": max(h["import_ms"] for h in handlers) if handlers else None,
        "asset_kb": max(assets) / 1000 if assets else None,
        "test_suite_s": tests.get("wall_s"),
        "rule_pack_findings_at_scale": pack.get("project_findings"),
        "bus_policy_chars_50": (quota_points.get(50) or {}).get("max_policy_chars"),
        "bus_policy_chars_200": (quota_points.get(200) or {}).get("max_policy_chars"),
        "wildcard_rules_50": (quota_points.get(50) or {}).get("max_wildcard_rules"),
        "wildcard_rules_200": (quota_points.get(200) or {}).get("max_wildcard_rules"),
        "first_run_s": first_run.get("seconds") if first_ok else None,
        "first_run_venv_gib": first_run["venv_bytes"] / GIB if first_ok and first_run.get("venv_bytes") else None,
        "cold_warm_ratio_50": _ratio(at_50.get("cold_s"), at_50.get("median_s")),
        "gates_ratio_50": gate_ratio(at_50, "cold"),
        "gates_ratio_50_warm": gate_ratio(at_50, "warm"),
        "stacks_per_model": stacks_per_model(scale),
        "pipeline_stages_50": pipeline_50.get("stages"),
        "pipeline_actions_per_stage_50": pipeline_50.get("max_actions_per_stage"),
        "pipeline_artifact_mb_50": pipeline_50["assembly_bytes"] / MIB if pipeline_50 else None,
        "cicd_template_kb_50": pipeline_50["template_bytes"] / 1000 if pipeline_50 else None,
    }


def evaluate_targets(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every target with its measured value and ``met`` (True, False, or None when not measured)."""
    values = measured_values(report)
    return [
        {
            "key": target.key,
            "description": target.description,
            "limit": target.limit,
            "unit": target.unit,
            "value": values[target.key],
            "met": None if values[target.key] is None else values[target.key] <= target.limit,  # type: ignore[operator]
        }
        for target in TARGETS
    ]


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def status(error: str | None, width: int = 120) -> str:
    """``ok``, a run that completed but failed cdk-nag's validation, or the failure itself."""
    if not error:
        return "ok"
    if "ValidationFailed" in error:
        return "completed, but cdk-nag validation failed"
    return "failed: " + error[:width]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def format_markdown(report: Mapping[str, Any], *, top_stacks: int = 10) -> str:
    """The report as a Markdown page: machine, targets, synth, breakdown, scale, Lambda, tests."""
    machine = report.get("machine", {})
    lines = ["# Benchmark results", ""]
    lines.append(
        f"{report.get('generated_at', '')}; {machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores, "
        f"{_num(machine.get('memory_gb'), 1)} GB; load average at start {machine.get('load_average', '?')}; "
        f"Python {machine.get('python', '?')}, Node {machine.get('node', '?')}, aws-cdk-lib "
        f"{machine.get('aws_cdk_lib', '?')}, CDK CLI {machine.get('cdk_cli', '?')}. "
        f"Options: {report.get('options', {})}."
    )
    lines += ["", "## Targets", ""]
    rows = []
    for target in report.get("targets", []):
        verdict = {True: "met", False: "**missed**", None: "not measured"}[target["met"]]
        rows.append([target["description"], f"<= {target['limit']:g} {target['unit']}", _num(target["value"]), verdict])
    lines += _table(["target", "goal", "measured", "verdict"], rows)

    lines += _synth_section(report.get("synth", {}))
    lines += _scale_section(report.get("scale", {}), top_stacks)
    lines += _rule_pack_section(report.get("scale", {}))
    lines += _quota_section(report.get("quotas") or {})
    lines += _lambda_section(report.get("lambda", []))
    lines += _tests_section(report.get("tests"))
    lines += _first_run_section(report.get("first_run"))
    return "\n".join(lines) + "\n"


def _first_run_section(first_run: Mapping[str, Any] | None) -> list[str]:
    if not first_run:
        return []
    size = first_run.get("venv_bytes")
    return [
        "",
        "## First run",
        "",
        f"`{first_run.get('command')}`: {_num(first_run.get('seconds'), 1)} s; .venv "
        f"{'n/a' if size is None else f'{size / GIB:.2f} GiB'}; {status(first_run.get('error'))}.",
    ]


def _synth_section(synth: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    if synth:
        floors = synth.get("floors", {})
        full = synth.get("full", {})
        lines += ["", "## Synth time (median of warm runs, seconds)", ""]
        lines += _table(
            ["measure", "median s", "samples"],
            [
                [
                    '`python -c "import aws_cdk"`',
                    _num(floors.get("import_median_s")),
                    str(floors.get("import_samples_s")),
                ],
                [
                    "one-bucket app (bench/floor_app.py)",
                    _num(floors.get("app_median_s")),
                    str(floors.get("app_samples_s")),
                ],
                ["full default synth (app.py)", _num(full.get("median_s")), str(full.get("samples_s"))],
                ["full default synth, cold render cache", _num(full.get("cold_s")), "1 run"],
            ],
        )
        lines.append("")
        lines.append(
            f"Ratio to the one-bucket floor: {_num(full.get('ratio_to_floor'))}x; "
            f"to the import floor: {_num(full.get('ratio_to_import'))}x; {len(full.get('stacks', []))} stacks."
        )
        if full.get("error"):
            lines.append(f"\nFull synth: {status(full['error'], 300)}.")
        breakdown = synth.get("breakdown") or {}
        if breakdown.get("phases"):
            lines += ["", "### Breakdown of one warm in-process run (bench/profile_synth.py)", ""]
            lines += _table(
                ["phase", "seconds"], [[name, _num(seconds)] for name, seconds in breakdown["phases"].items()]
            )
            lines.append(
                f"\n{breakdown.get('renders', 0)} pipeline renders, {breakdown.get('render_cache_misses', 0)} cache "
                f"misses; cfn-lint findings: {breakdown.get('cfn_lint_findings')}."
            )
        if breakdown.get("error"):
            lines.append(f"\nProfiled run: {status(breakdown['error'], 300)}.")

    return lines


def _scale_section(scale: Mapping[str, Any], top_stacks: int) -> list[str]:
    lines: list[str] = []
    if scale.get("points"):
        lines += ["", "## Scale (generated configurations)", ""]
        rows = []
        for point in scale["points"]:
            stacks = point.get("stacks", [])
            biggest = max(stacks, key=lambda s: s["resources"], default=None)
            largest = max(stacks, key=lambda s: s["template_bytes"], default=None)
            phases = (point.get("breakdown") or {}).get("phases", {})
            rows.append(
                [
                    str(point["models"]),
                    _num(point.get("median_s")),
                    _num(point.get("cold_s")),
                    str(len(stacks)),
                    f"{biggest['resources']} ({biggest['path']})" if biggest else "n/a",
                    f"{largest['template_bytes'] / 1000:.1f} ({largest['path']})" if largest else "n/a",
                    str(max((s["outputs"] for s in stacks), default=0)),
                    str(max((s["parameters"] for s in stacks), default=0)),
                    _num(phases.get("cfn_lint")),
                    _num(_ratio(point.get("cold_s"), point.get("median_s"))),
                    _num((point.get("gates") or {}).get("cold_s")),
                    _num((point.get("gates") or {}).get("warm_s")),
                    status(point.get("error") or (point.get("gates") or {}).get("error")),
                ]
            )
        lines += _table(
            [
                "models",
                "synth median s",
                "cold s",
                "stacks",
                "max resources (stack)",
                "max template KB (stack)",
                "max outputs",
                "max params",
                "cfn-lint s",
                "cold / warm",
                "gates s (empty lint cache)",
                "gates s (filled)",
                "status",
            ],
            rows,
        )
        lines.append(
            f"\nPer added model: {_num(scale.get('seconds_per_model'), 3)} s (least squares); segment slopes "
            f"{[round(s, 3) for s in scale.get('segment_slopes', [])]} s/model; linearity (last/first segment) "
            f"{_num(scale.get('linearity'))}."
        )
        largest_point = max(scale["points"], key=lambda p: int(p["models"]))
        stacks = sorted(largest_point.get("stacks", []), key=lambda s: (-s["resources"], s["path"]))
        if stacks:
            lines += ["", f"### Largest stacks at {largest_point['models']} models (all stacks in latest.json)", ""]
            lines += _table(
                ["stack", "resources", "template KB", "outputs", "params"],
                [
                    [
                        s["path"],
                        str(s["resources"]),
                        f"{s['template_bytes'] / 1000:.1f}",
                        str(s["outputs"]),
                        str(s["parameters"]),
                    ]
                    for s in stacks[:top_stacks]
                ],
            )
        lines += _pipeline_lines(scale["points"])
        over = [s for p in scale["points"] for s in p.get("stacks", []) if s.get("over_limits")]
        lines.append(
            "\nCloudFormation limits (500 resources, 1 MB, 200 outputs, 200 parameters): "
            + (", ".join(f"{s['path']} over {s['over_limits']}" for s in over) if over else "no stack over any limit.")
        )

    return lines


def _pipeline_lines(points: Sequence[Mapping[str, Any]]) -> list[str]:
    """The release pipeline per model count against CodePipeline's quotas."""
    measured = [p for p in points if p.get("pipeline")]
    if not measured:
        return []
    lines = ["", "### Release pipeline (Quotas in AWS CodePipeline: 50 stages, 50 actions per stage, 256 MB input)", ""]
    lines += _table(
        ["models", "stages", "actions", "most actions in a stage", "Cicd template KB", "assembly MB (unzipped)"],
        [
            [
                str(p["models"]),
                str(p["pipeline"]["stages"]),
                str(p["pipeline"]["actions"]),
                str(p["pipeline"]["max_actions_per_stage"]),
                f"{p['pipeline']['template_bytes'] / 1000:.1f}",
                f"{p['pipeline']['assembly_bytes'] / MIB:.1f}",
            ]
            for p in measured
        ],
    )
    largest = max(measured, key=lambda p: int(p["models"]))
    stages = ", ".join(f"{s['name']} {s['actions']}" for s in largest["pipeline"]["stage_actions"])
    lines.append(f"\nStages at {largest['models']} models (actions): {stages}.")
    return lines


def _rule_pack_section(scale: Mapping[str, Any]) -> list[str]:
    packed = [p for p in scale.get("points", []) if p.get("rule_pack")]
    if not packed:
        return []
    point = max(packed, key=lambda p: int(p["models"]))
    pack = point["rule_pack"]
    by_rule = ", ".join(f"{rule} x{count}" for rule, count in pack.get("by_rule", {}).items()) or "none"
    return [
        "",
        f"## Project rule pack at {point['models']} models",
        "",
        f"{pack['rules_ran']} project rules (cfn-lint rules of cfn_rules/ and the assembly checks) over "
        f"{pack['templates']} templates in {_num(pack.get('seconds'), 1)} s (the whole make-synth gate: cfn-lint "
        f"with the project rules, then the assembly checks): {pack['project_findings']} project findings "
        f"({by_rule}); other cfn-lint findings: {pack.get('cfn_lint_findings')}.",
    ]


def _quota_section(quotas: Mapping[str, Any]) -> list[str]:
    if not quotas.get("points"):
        return []
    limits = quotas.get("quotas", {})
    policy_limit, wildcard_limit = limits.get("policy_chars", 10_240), limits.get("wildcard_rules", 30)
    lines = ["", "## Event-bus quotas per bus (Amazon EventBridge quotas)", ""]
    rows = []
    for point in quotas["points"]:
        errors = [f"{s['environment']}: {status(s.get('error'))}" for s in point.get("synths", []) if s.get("error")]
        synth_s = sum(float(s.get("seconds") or 0) for s in point.get("synths", []))
        for name, limit in (("max_policy_chars", policy_limit), ("max_wildcard_rules", wildcard_limit)):
            value = point.get(name)
            verdict = "not measured" if value is None else ("met" if value <= limit else "**missed**")
            label = "largest bus policy (characters)" if name == "max_policy_chars" else "most wildcard rules on a bus"
            rows.append(
                [
                    str(point["models"]),
                    ", ".join(point.get("environments", [])),
                    label,
                    "n/a" if value is None else str(value),
                    f"<= {limit:,}",
                    verdict,
                    f"{synth_s:.0f}" + (f" ({'; '.join(errors)})" if errors else ""),
                ]
            )
    lines += _table(["models", "environments synthesized", "measure", "value", "quota", "verdict", "synth s"], rows)
    biggest = max(quotas["points"], key=lambda p: int(p["models"]))
    buses = biggest.get("buses", [])
    if buses:
        lines += ["", f"Per bus at {biggest['models']} models:", ""]
        lines += _table(
            ["account", "region", "bus", "policy characters", "wildcard rules"],
            [[b["account"], b["region"], b["bus"], str(b["policy_chars"]), str(b["wildcard_rules"])] for b in buses],
        )
    return lines


def _lambda_section(handlers: Sequence[Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    if handlers:
        lines += ["", "## Lambda cold path", ""]
        lines += _table(
            ["function", "import ms (median)", "asset KB", "env", "status"],
            [
                [
                    h["function"],
                    _num(h.get("import_ms"), 1),
                    f"{h['asset_bytes'] / 1000:.1f}",
                    h.get("env_source", ""),
                    status(h.get("error")),
                ]
                for h in handlers
            ],
        )

    return lines


def _tests_section(tests: Mapping[str, Any] | None) -> list[str]:
    lines: list[str] = []
    if tests:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(tests.get("counts", {}).items()))
        lines += [
            "",
            "## Test suite",
            "",
            f"`python -m pytest -n 2 --dist worksteal -q`: {_num(tests.get('wall_s'), 1)} s, {counts or 'no summary'}.",
        ]
    return lines
