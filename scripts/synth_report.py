"""Gate and summarize a synthesized cloud assembly: cfn-lint and the project rules on every template, then a summary.

Run after ``cdk synth`` (``make synth`` does): exits non-zero on any cfn-lint error or warning (the project's own
rules in ``cfn_rules/`` run in the same cfn-lint pass, appended with ``--append-rules``), on any finding of the
assembly checks over the templates of one account and Region, or on a stack over a CloudFormation limit. Prints
per stack its resources, outputs, parameters, template size and the cdk-nag findings acknowledged in it, and how
many project rules ran and fired. cfn-lint runs one process per core (``LINT_WORKERS`` sets another number) and
skips templates it already passed with the same bytes, cfn-lint version, project rules and .cfnlintrc.yaml
(build/lint-cache; ``--no-lint-cache`` lints all).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script (make synth): the project's packages sit at the repository root
    sys.path.insert(0, str(REPO))

from cfn_rules import ASSEMBLY_CHECKS, RULES_DIR, AssemblyFinding, StackTemplate, check_assembly, rule_ids  # noqa: E402
from cfn_rules._shared import EXECUTION_POLICY  # noqa: E402

ACK_METADATA = "aws:cdk:acknowledged-rules"
# CloudFormation's hard limits per stack.
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000
CFN_LINT_CONFIG = REPO / ".cfnlintrc.yaml"
# Passes of cfn-lint, one empty-ish file per (template bytes, cfn-lint version, rules) key; `make clean` removes it.
LINT_CACHE_DIR = REPO / "build" / "lint-cache"
# How many cfn-lint processes run at once when the caller does not say: one per core unless this environment
# variable sets another number (the test suite's workers already keep every core busy, so each of them uses one).
LINT_WORKERS_VARIABLE = "LINT_WORKERS"


@dataclass(frozen=True)
class StackReport:
    """Size and review facts of one synthesized stack."""

    path: str
    template: Path
    resources: int
    outputs: int
    parameters: int
    template_bytes: int
    acknowledged: int
    account: str | None = None
    region: str | None = None


_ENVIRONMENT = re.compile(r"^aws://(\d{12})/([a-z0-9-]+)$")
_PROJECT_FINDING = re.compile(r":(E9\d{3}):")


def _environment(artifact: dict[str, object]) -> tuple[str | None, str | None]:
    """(account, region) of a stack artifact's ``aws://account/region``; ``None`` for environment-agnostic stacks."""
    found = _ENVIRONMENT.match(str(artifact.get("environment", "")))
    return (found.group(1), found.group(2)) if found else (None, None)


def _assemblies(root: Path) -> list[Path]:
    found = [root]
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") == "cdk:cloud-assembly":
            found.extend(_assemblies(root / artifact["properties"]["directoryName"]))
    return found


def collect(root: Path) -> list[StackReport]:
    """Every CloudFormation stack in the assembly at ``root``, nested stage assemblies included."""
    reports = []
    for assembly in _assemblies(root):
        manifest = json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))
        for artifact in manifest.get("artifacts", {}).values():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            template_path = assembly / artifact["properties"]["templateFile"]
            template = json.loads(template_path.read_text(encoding="utf-8"))
            acknowledged = 0
            metadata_file = artifact.get("metadataFile") or artifact.get("additionalMetadataFile")
            metadata = (
                json.loads((assembly / metadata_file).read_text(encoding="utf-8"))
                if metadata_file and (assembly / metadata_file).exists()
                else artifact.get("metadata", {})
            )
            for entries in metadata.values():
                for entry in entries:
                    if entry.get("type") == ACK_METADATA:
                        acknowledged += len(entry.get("data", {}))
            reports.append(
                StackReport(
                    path=artifact.get("displayName", template_path.stem),
                    template=template_path,
                    resources=len(template.get("Resources", {})),
                    outputs=len(template.get("Outputs", {})),
                    parameters=len(template.get("Parameters", {})),
                    template_bytes=template_path.stat().st_size,
                    acknowledged=acknowledged,
                    account=_environment(artifact)[0],
                    region=_environment(artifact)[1],
                )
            )
    return sorted(reports, key=lambda r: r.path)


def _rules_digest() -> str:
    """sha256 of what decides a template's cfn-lint result besides the template: the project rules, the config and
    the execution policy (E9072 reads which policy paths it allows)."""
    digest = hashlib.sha256()
    sources = sorted(RULES_DIR.rglob("*.py"), key=lambda p: p.relative_to(RULES_DIR).as_posix())
    for path in [*sources, CFN_LINT_CONFIG, EXECUTION_POLICY]:
        if "__pycache__" in path.parts or not path.is_file():
            continue
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def lint_cache_key(template: Path, context: str) -> str:
    """The name of a template's pass in the lint cache: its bytes, the cfn-lint version and the rules' sources."""
    return hashlib.sha256(context.encode() + b"\0" + template.read_bytes()).hexdigest()


def _chunks(templates: list[Path], count: int) -> list[list[Path]]:
    """``templates`` in ``count`` groups of about equal total size (cfn-lint's time grows with template size)."""
    groups: list[list[Path]] = [[] for _ in range(count)]
    sizes = [0] * count
    for template in sorted(templates, key=lambda t: t.stat().st_size, reverse=True):
        smallest = sizes.index(min(sizes))
        groups[smallest].append(template)
        sizes[smallest] += template.stat().st_size
    return [group for group in groups if group]


def _run_cfn_lint(templates: list[Path]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--format",
            "parseable",
            "--append-rules",
            str(RULES_DIR),
            "--",
            *map(str, templates),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def default_lint_workers() -> int:
    """``LINT_WORKERS`` when it is a positive number, else the cores this process may run on."""
    configured = os.environ.get(LINT_WORKERS_VARIABLE, "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return len(os.sched_getaffinity(0))


def lint(templates: list[Path], *, cache_dir: Path | None = LINT_CACHE_DIR, workers: int | None = None) -> list[str]:
    """cfn-lint findings (errors and warnings) over ``templates``, the project rules of ``cfn_rules/`` included.

    cfn-lint runs in the repository (it reads .cfnlintrc.yaml there) with the repository on PYTHONPATH, so that
    the rule modules it loads from ``cfn_rules/`` import their shared helpers. Templates are linted in parallel
    processes (``workers``, default ``default_lint_workers()``), each given templates of about equal total size. A
    template that passed before with the same bytes, cfn-lint version, project rules and .cfnlintrc.yaml is not
    linted again (``cache_dir``; ``None`` lints everything); only passes are cached, so a finding is always
    printed from a fresh run.
    """
    context = f"cfn-lint {importlib.metadata.version('cfn-lint')}\0rules {_rules_digest()}"
    keys = {template: lint_cache_key(template, context) for template in templates} if cache_dir else {}
    todo = [t for t in templates if not (cache_dir and (cache_dir / keys[t]).is_file())]
    if not todo:
        return []
    count = max(1, min(workers or default_lint_workers(), len(todo)))
    running = [(group, _run_cfn_lint(group)) for group in _chunks(todo, count)]
    findings: list[str] = []
    for group, process in running:
        stdout, stderr = process.communicate()
        lines = [line for line in stdout.splitlines() if line.strip()]
        findings.extend(lines + ([stderr.strip()] if process.returncode and not lines else []))
        if cache_dir and process.returncode == 0 and not lines:
            cache_dir.mkdir(parents=True, exist_ok=True)
            for template in group:
                (cache_dir / keys[template]).write_text(f"{template.name}\n", encoding="utf-8")
    return findings


def project_findings(findings: list[str]) -> list[str]:
    """The cfn-lint findings raised by the project's rules (ids E9xxx)."""
    return [finding for finding in findings if _PROJECT_FINDING.search(finding)]


def assembly_findings(reports: list[StackReport]) -> list[AssemblyFinding]:
    """The assembly checks (cfn_rules/_assembly.py) over every template, grouped by the manifest's account/Region."""
    stacks = [
        StackTemplate(
            path=r.path,
            account=r.account,
            region=r.region,
            template=json.loads(r.template.read_text(encoding="utf-8")),
        )
        for r in reports
    ]
    return check_assembly(stacks)


def project_rules_line(findings: list[str], assembly: list[AssemblyFinding]) -> str:
    """``project rules: N ran (...), M fired``: every project rule runs on every synth."""
    cfn_lint_rules = len(rule_ids())
    fired = len(project_findings(findings)) + len(assembly)
    return (
        f"project rules: {cfn_lint_rules + len(ASSEMBLY_CHECKS)} ran ({cfn_lint_rules} cfn-lint rules on every "
        f"template, {len(ASSEMBLY_CHECKS)} assembly checks per account and Region), {fired} fired"
    )


def main(argv: list[str] | None = None) -> int:
    """Lint and summarize; the exit code is the gate."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path)
    parser.add_argument("--no-lint-cache", action="store_true", help="lint every template, even those passed before")
    args = parser.parse_args(argv)
    reports = collect(args.assembly)
    if not reports:
        print(f"no stacks in {args.assembly}", file=sys.stderr)
        return 1
    findings = lint([r.template for r in reports], cache_dir=None if args.no_lint_cache else LINT_CACHE_DIR)
    assembly = assembly_findings(reports)
    width = max(len(r.path) for r in reports)
    print(f"{'stack':<{width}}  resources  outputs  params  template KB  nag acks")
    for r in reports:
        print(
            f"{r.path:<{width}}  {r.resources:>9}  {r.outputs:>7}  {r.parameters:>6}  "
            f"{r.template_bytes / 1000:>11.1f}  {r.acknowledged:>8}"
        )
    total = sum(r.resources for r in reports)
    acks = sum(r.acknowledged for r in reports)
    print(
        f"{len(reports)} stacks, {total} resources; cdk-nag: 0 unacknowledged findings, {acks} acknowledged "
        f"with reasons; cfn-lint: {len(findings) - len(project_findings(findings))} findings"
    )
    print(project_rules_line(findings, assembly))
    over = [r for r in reports if r.resources > MAX_RESOURCES or r.template_bytes > MAX_TEMPLATE_BYTES]
    for r in over:
        print(f"error: {r.path} exceeds a CloudFormation limit", file=sys.stderr)
    for finding in findings:
        print(finding, file=sys.stderr)
    for assembly_finding in assembly:
        print(assembly_finding, file=sys.stderr)
    return 1 if findings or assembly or over else 0


if __name__ == "__main__":
    sys.exit(main())
