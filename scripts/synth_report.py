"""Gate and summarize a synthesized cloud assembly: cfn-lint every template, then print one line per stack.

Run after ``cdk synth`` (``make synth`` does): exits non-zero on any cfn-lint error or warning, and prints per
stack its resources, outputs, parameters, template size and the cdk-nag findings acknowledged in it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ACK_METADATA = "aws:cdk:acknowledged-rules"
# CloudFormation's hard limits per stack.
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000


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
                )
            )
    return sorted(reports, key=lambda r: r.path)


def lint(templates: list[Path]) -> list[str]:
    """cfn-lint findings (errors and warnings) over ``templates``; cfn-lint reads the repo's .cfnlintrc.yaml."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in result.stdout.splitlines() if line.strip()] + (
        [result.stderr.strip()] if result.returncode and not result.stdout.strip() else []
    )


def main(argv: list[str] | None = None) -> int:
    """Lint and summarize; the exit code is the gate."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path)
    args = parser.parse_args(argv)
    reports = collect(args.assembly)
    if not reports:
        print(f"no stacks in {args.assembly}", file=sys.stderr)
        return 1
    findings = lint([r.template for r in reports])
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
        f"with reasons; cfn-lint: {len(findings)} findings"
    )
    over = [r for r in reports if r.resources > MAX_RESOURCES or r.template_bytes > MAX_TEMPLATE_BYTES]
    for r in over:
        print(f"error: {r.path} exceeds a CloudFormation limit", file=sys.stderr)
    for finding in findings:
        print(finding, file=sys.stderr)
    return 1 if findings or over else 0


if __name__ == "__main__":
    sys.exit(main())
