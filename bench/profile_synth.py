"""Run app.py in this process with each phase timed, and print the breakdown as JSON.

Run it like the CDK CLI runs app.py (``CDK_OUTDIR`` and ``CDK_CONTEXT_JSON`` in the environment, the repository
as the working directory): ``python -m bench.profile_synth --output phases.json``. It does not re-implement the
app: it wraps the functions app.py calls (``load_config``, ``load_approved_models``, ``build_platform``,
``App.synth``) and the pipeline renderer, then runs app.py itself, so it keeps measuring the app as it changes.

Phases (seconds): ``imports`` (aws_cdk, cdk-nag and the project's modules, including starting jsii's Node
process), ``config`` (load and validate the configuration and approved models), ``pipeline_render`` (inside
``render_definition``: cache lookups, and on a miss the sagemaker SDK import and build), ``constructs``
(``build_platform`` minus rendering), ``synth`` (``app.synth()``, including cdk-nag's validation), ``cfn_lint``
(the gate of scripts/synth_report.py over every template), ``other`` (the rest of the process's wall time).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import runpy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Timings = dict[str, float]


def _timed(function: Callable[..., Any], timings: Timings, phase: str, counts: dict[str, int] | None = None) -> Any:
    """``function`` wrapped so that every call adds its wall time to ``timings[phase]``."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start
            if counts is not None:
                counts[phase] = counts.get(phase, 0) + 1

    return wrapper


def profile(app_path: Path) -> dict[str, Any]:
    """Import, wrap, run ``app_path`` as ``__main__`` and cfn-lint its output; the phases and counts."""
    started = time.perf_counter()
    timings: Timings = {}
    counts: dict[str, int] = {}

    start = time.perf_counter()
    import aws_cdk as cdk
    import cdk_nag  # noqa: F401 -- part of what app.py pays for at import

    # Wrapped before anything imports it by name, so stacks that do `from pipeline_defs.render import ...` get
    # the timed version. `build_definition` is looked up as a module global by render_definition: cache misses.
    from pipeline_defs import render

    render.render_definition = _timed(render.render_definition, timings, "pipeline_render", counts)
    render.build_definition = _timed(render.build_definition, timings, "pipeline_build", counts)
    import mlops_config
    import mlops_config.approved
    import stacks.platform

    timings["imports"] = time.perf_counter() - start

    mlops_config.load_config = _timed(mlops_config.load_config, timings, "config")
    mlops_config.approved.load_approved_models = _timed(mlops_config.approved.load_approved_models, timings, "config")
    stacks.platform.build_platform = _timed(stacks.platform.build_platform, timings, "build_platform")
    original_synth = cdk.App.synth
    cdk.App.synth = _timed(original_synth, timings, "synth")  # type: ignore[method-assign]

    error = None
    try:
        runpy.run_path(str(app_path), run_name="__main__")
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            error = str(exit_.code)
    except Exception as exception:
        error = f"{type(exception).__name__}: {str(exception)[:600]}"
    finally:
        cdk.App.synth = original_synth  # type: ignore[method-assign]

    lint_findings: int | None = None
    # cdk-nag's findings fail the validation after the templates are written: cfn-lint still has work to time.
    if error is None or "ValidationFailed" in error:
        from scripts.synth_report import collect, lint

        start = time.perf_counter()
        reports = collect(Path(os.environ.get("CDK_OUTDIR", "cdk.out")))
        lint_findings = len(lint([report.template for report in reports], cache_dir=None))  # every template linted
        timings["cfn_lint"] = time.perf_counter() - start

    render_time = timings.get("pipeline_render", 0.0)
    phases = {
        "imports": timings["imports"],
        "config": timings.get("config", 0.0),
        "pipeline_render": render_time,
        "constructs": max(timings.get("build_platform", 0.0) - render_time, 0.0),
        "synth": timings.get("synth", 0.0),
        "cfn_lint": timings.get("cfn_lint", 0.0),
    }
    total = time.perf_counter() - started
    phases["other"] = max(total - sum(phases.values()), 0.0)
    return {
        "phases": phases,
        "total": total,
        "renders": counts.get("pipeline_render", 0),
        "render_cache_misses": counts.get("pipeline_build", 0),
        "cfn_lint_findings": lint_findings,
        "error": error,
    }


def main(argv: list[str] | None = None) -> int:
    """Profile app.py (in the working directory) and write the breakdown as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", type=Path, default=Path("app.py"))
    parser.add_argument("--output", type=Path, help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.app.resolve().parent))
    result = profile(args.app)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0 if result["error"] is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
