"""Every stack kind the app can synthesize, built from the shipped configuration and its variants.

The shipped configuration with a model approved everywhere and the release pipeline covers the data, training,
serving (real-time, serverless, batch), monitoring (open, endpoint-only), pipeline and access stacks; prod with
``backend: model_monitor`` and all four kinds adds the Model Monitor stack kind; staging of
``config/examples/inference-modes.yaml`` adds asynchronous, shadow-tested and inference-component serving.
Run as a module to write every template into a folder (``python -m tests.security.variants OUTDIR``), which
``make checkov`` scans.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from mlops_config import load_config, parse_config
from mlops_config.approved import load_approved_models
from tests.conftest import APPROVED_PACKAGE, DEFAULT_CONFIG, REPO, build_app, raw_default_config

MODEL = "breast-cancer"
EXAMPLE_CONFIG = REPO / "config" / "examples" / "inference-modes.yaml"
EXAMPLE_APPROVED = REPO / "config" / "examples" / "approved-models.inference-modes.json"
MODEL_MONITOR = {"backend": "model_monitor", "bias": True, "explainability": True}


def _approved(config: Any) -> dict[str, dict[str, str]]:
    return {env.name: {MODEL: APPROVED_PACKAGE} for env in config.environments}


def variant_apps(outdir: Path) -> dict[str, cdk.App]:
    """The synthesized apps by variant name, each in its own folder under ``outdir``."""
    shipped = parse_config(raw_default_config(), source=DEFAULT_CONFIG)
    raw = copy.deepcopy(raw_default_config())
    raw["models"][0]["environments"]["prod"]["monitoring"] = MODEL_MONITOR
    model_monitor = parse_config(raw, source=DEFAULT_CONFIG)
    apps: dict[str, cdk.App] = {}
    app, _ = build_app(shipped, approved=_approved(shipped), outdir=outdir / "shipped", with_cicd=True)
    apps["shipped"] = app
    app, _ = build_app(
        model_monitor, approved=_approved(model_monitor), environments=["prod"], outdir=outdir / "model-monitor"
    )
    apps["model-monitor"] = app
    # Asynchronous, shadow-tested and inference-component serving (issue 16): staging of the example configuration.
    modes = load_config(EXAMPLE_CONFIG)
    app, _ = build_app(
        modes,
        approved=load_approved_models(EXAMPLE_APPROVED, modes),
        environments=["staging"],
        outdir=outdir / "inference-modes",
    )
    apps["inference-modes"] = app
    for app in apps.values():
        app.synth()
    return apps


def stacks(app: cdk.App) -> Iterator[cdk.Stack]:
    """Every stack of ``app``, in stages too."""
    for node in app.node.find_all():
        if isinstance(node, cdk.Stack):
            yield node


def templates(apps: dict[str, cdk.App]) -> dict[str, dict[str, Any]]:
    """``<variant>/<stack path>`` -> the stack's synthesized template."""
    found: dict[str, dict[str, Any]] = {}
    for name, app in apps.items():
        for stack in stacks(app):
            found[f"{name}/{stack.node.path}"] = dict(cdk.assertions.Template.from_stack(stack).to_json())
    return found


def write_templates(outdir: Path, found: Mapping[str, dict[str, Any]] | None = None) -> list[Path]:
    """Write each template of ``found`` (``templates(...)``; default: every variant, synthesized here) as
    ``outdir/<variant>--<stack>.template.json``."""
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    if found is None:
        found = templates(variant_apps(outdir.parent / f"{outdir.name}-assemblies"))
    for key, template in found.items():
        path = outdir / f"{key.replace('/', '--')}.template.json"
        path.write_text(json.dumps(template, indent=1, sort_keys=True), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "build/security-templates")
    paths = write_templates(target)
    print(f"{len(paths)} templates in {target}")
