"""``make bench``: measure synth time, scale to many models, the Lambda cold path and the test suite.

    python -m bench.run [--runs N] [--scale-runs N] [--quick] [--skip-tests] [--skip-first-run] [--models 1,10,50,200]

Everything runs as the CDK CLI would run it, in child processes of this venv, offline (fake credentials, no
instance metadata). Synths run in a snapshot of the working tree (git's tracked and untracked-but-not-ignored
files) so that the first run is a true cold pipeline-render cache and nothing is written into the repository.
Writes ``bench/results/latest.json`` and ``bench/results/latest.md``; targets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import gen_config, lambdas, quotas, report, stats

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
SYNTH_TIMEOUT_S = 1800


def child_env() -> dict[str, str]:
    """This environment, made offline: fake credentials, no metadata probing, no telemetry, the pinned Node first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "SAGEMAKER_DISABLE_TELEMETRY": "true",
            "PATH": os.pathsep.join([str(REPO / "node_modules" / ".bin"), env.get("PATH", "")]),
        }
    )
    return env


# What `cdk synth` adds to the context by default: path and asset metadata on every resource (part of the
# template size CloudFormation sees) and, as cdk.json sets versionReporting: false, no version reporting.
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": False,
}


def cdk_context(extra: Mapping[str, str] | None = None) -> str:
    """cdk.json's context, the CLI's defaults and ``extra`` (-c values), as the CLI passes it in CDK_CONTEXT_JSON."""
    context = json.loads((REPO / "cdk.json").read_text(encoding="utf-8"))["context"]
    context.update(CLI_CONTEXT)
    context.update(extra or {})
    return json.dumps(context)


def snapshot(destination: Path) -> Path:
    """Copy the working tree (what git would commit, tracked or new) to ``destination``, bytecode compiled."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607 -- git from PATH
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        source = REPO / raw.decode()
        if source.is_file():
            target = destination / raw.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    # Bytecode now, so that the cold run measures the cold render cache and not Python compiling the project.
    compileall.compile_dir(destination, quiet=1, workers=1)
    return destination


def timed_run(command: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> tuple[float, str | None]:
    """Wall time of ``command`` and, when it failed, the last line of its error output."""
    start = time.perf_counter()
    result = subprocess.run(
        list(command), cwd=cwd, env=dict(env), capture_output=True, text=True, check=False, timeout=SYNTH_TIMEOUT_S
    )
    elapsed = time.perf_counter() - start
    if result.returncode == 0:
        return elapsed, None
    lines = [line for line in result.stderr.splitlines() if line.strip()] or [f"exit code {result.returncode}"]
    error = next((line for line in reversed(lines) if re.match(r"^\w*(Error|Exception)\b|^error:", line)), lines[-1])
    return elapsed, error[:600]


def synth_once(workspace: Path, script: str, context: str, scratch: Path) -> tuple[float, str | None, Path]:
    """Run ``script`` as the CDK CLI runs an app; returns the wall time, any error and the output directory."""
    outdir = Path(tempfile.mkdtemp(prefix="cdk.out.", dir=scratch))
    env = {**child_env(), "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": context}
    elapsed, error = timed_run([sys.executable, script], cwd=workspace, env=env)
    return elapsed, error, outdir


def completed(error: str | None) -> bool:
    """Whether a synth did all of its work: no error, or only cdk-nag's findings failing the final validation.

    Templates are written before validation, so such a run's time and stack sizes are still meaningful (the
    report keeps the error next to them).
    """
    return error is None or "ValidationFailed" in error


def repeated_synth(
    workspace: Path, script: str, context: str, scratch: Path, runs: int
) -> tuple[list[float], str | None, Path | None]:
    """``runs`` synths; the samples, the first error and the last output directory (stops at an incomplete run)."""
    samples: list[float] = []
    last: Path | None = None
    first_error: str | None = None
    for _ in range(runs):
        elapsed, error, outdir = synth_once(workspace, script, context, scratch)
        if last is not None:
            shutil.rmtree(last, ignore_errors=True)
        last = outdir
        first_error = first_error or error
        if not completed(error):
            return samples, first_error, last
        samples.append(elapsed)
    return samples, first_error, last


def stacks_of(outdir: Path | None) -> list[dict[str, Any]]:
    """Size facts of every stack in a cloud assembly (scripts/synth_report.collect)."""
    if outdir is None or not (outdir / "manifest.json").exists():
        return []
    from scripts.synth_report import collect

    return [report.stack_facts(r.path, r.resources, r.outputs, r.parameters, r.template_bytes) for r in collect(outdir)]


def profile(workspace: Path, context: str, scratch: Path) -> dict[str, Any]:
    """The phase breakdown of one in-process synth (bench/profile_synth.py in a child process)."""
    outdir = Path(tempfile.mkdtemp(prefix="cdk.out.profile.", dir=scratch))
    output = scratch / f"profile-{outdir.name}.json"
    env = {**child_env(), "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": context}
    _, error = timed_run([sys.executable, "-m", "bench.profile_synth", "--output", str(output)], cwd=workspace, env=env)
    shutil.rmtree(outdir, ignore_errors=True)
    if output.exists():
        result: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
        return result
    return {"error": error or "profile produced no output"}


def measure_synth(workspace: Path, scratch: Path, runs: int) -> tuple[dict[str, Any], Path | None]:
    """Floors, the full default synth (one cold, then warm runs) and its breakdown."""
    print(f"synth: floors ({runs} runs each)", flush=True)
    env = child_env()
    import_samples = [
        timed_run([sys.executable, "-c", "import aws_cdk"], cwd=workspace, env=env)[0] for _ in range(runs)
    ]
    floor_context = cdk_context()
    floor_samples, floor_error, floor_out = repeated_synth(
        workspace, "bench/floor_app.py", floor_context, scratch, runs
    )
    if floor_out:
        shutil.rmtree(floor_out, ignore_errors=True)
    floors: dict[str, Any] = {
        "import_median_s": stats.median(import_samples),
        "import_samples_s": [round(s, 3) for s in import_samples],
        "app_median_s": stats.median(floor_samples) if floor_samples else None,
        "app_samples_s": [round(s, 3) for s in floor_samples],
        "app_error": floor_error,
    }
    print("synth: full default app (1 cold run, then warm runs)", flush=True)
    cold_s, error, cold_out = synth_once(workspace, "app.py", floor_context, scratch)
    samples, warm_error, last = (
        repeated_synth(workspace, "app.py", floor_context, scratch, runs) if completed(error) else ([], error, cold_out)
    )
    if last != cold_out:
        shutil.rmtree(cold_out, ignore_errors=True)
    median_s = stats.median(samples) if samples else None
    full = {
        "median_s": median_s,
        "samples_s": [round(s, 3) for s in samples],
        "cold_s": cold_s if completed(error) else None,
        "ratio_to_floor": median_s / floors["app_median_s"] if median_s and floors["app_median_s"] else None,
        "ratio_to_import": median_s / floors["import_median_s"] if median_s else None,
        "stacks": stacks_of(last),
        "error": error or warm_error,
    }
    print("synth: breakdown", flush=True)
    breakdown = profile(workspace, floor_context, scratch)
    return {"floors": floors, "full": full, "breakdown": breakdown}, last


def measure_scale(workspace: Path, scratch: Path, models: Sequence[int], runs: int) -> dict[str, Any]:
    """The same synth over generated configurations of each model count; slope and linearity of the medians.

    At the largest model count the project rule pack (bench/quotas.rule_pack) also runs over every template.
    """
    points: list[dict[str, Any]] = []
    for count in models:
        print(f"scale: {count} models (1 cold run, then {runs} warm runs)", flush=True)
        config_path, approved_path = gen_config.write_scale_inputs(count, scratch / "configs")
        context = cdk_context({"config": str(config_path), "approved_models": str(approved_path)})
        cold_s, error, cold_out = synth_once(workspace, "app.py", context, scratch)
        samples, warm_error, last = (
            repeated_synth(workspace, "app.py", context, scratch, runs) if completed(error) else ([], error, cold_out)
        )
        if last != cold_out:
            shutil.rmtree(cold_out, ignore_errors=True)
        stacks = stacks_of(last)
        pipeline = quotas.pipeline_facts(last) if stacks and last is not None else None
        gates = measure_gates(workspace, last) if stacks and last is not None else None
        pack = None
        if count == max(models) and stacks and last is not None:
            print(f"scale: project rule pack over the {count}-model templates", flush=True)
            pack = quotas.rule_pack(last)
        if last:
            shutil.rmtree(last, ignore_errors=True)
        points.append(
            {
                "models": count,
                "median_s": stats.median(samples) if samples else None,
                "samples_s": [round(s, 3) for s in samples],
                "cold_s": cold_s if completed(error) else None,
                "stacks": stacks,
                "pipeline": pipeline,
                "gates": gates,
                "breakdown": profile(workspace, context, scratch) if completed(error or warm_error) else None,
                "rule_pack": pack,
                "error": error or warm_error,
            }
        )
    measured = [(float(p["models"]), float(p["median_s"])) for p in points if p["median_s"] is not None]
    enough = len({x for x, _ in measured}) >= 2
    return {
        "points": points,
        "seconds_per_model": stats.least_squares_slope(measured) if enough else None,
        "segment_slopes": stats.segment_slopes(measured),
        "linearity": stats.linearity(measured),
    }


def measure_gates(workspace: Path, outdir: Path) -> dict[str, Any]:
    """The gates `make synth` runs after `cdk synth` (scripts/synth_report.py: cfn-lint with the project rules across
    cores, the assembly checks, the summary), once with an empty lint cache and once again with it filled."""
    cache = workspace / "build" / "lint-cache"
    shutil.rmtree(cache, ignore_errors=True)
    command = [sys.executable, "scripts/synth_report.py", str(outdir)]
    cold_s, error = timed_run(command, cwd=workspace, env=child_env())
    warm_s, warm_error = timed_run(command, cwd=workspace, env=child_env())
    return {"cold_s": cold_s, "warm_s": warm_s, "error": error or warm_error}


def _directory_bytes(root: Path) -> int:
    """Bytes on disk under ``root`` as ``du`` counts them (blocks, each hard-linked file once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in root.rglob("*"):
        stat = path.lstat()
        if (stat.st_dev, stat.st_ino) in seen:
            continue
        seen.add((stat.st_dev, stat.st_ino))
        total += stat.st_blocks * 512
    return total


def measure_first_run(scratch: Path) -> dict[str, Any]:
    """`make synth` on a fresh clone of this repository's HEAD, with empty uv and npm caches (from the network).

    The clean-machine case of issue 18: only Python, Node/npm and make present; the venv's size is taken after.
    """
    print("first run: git clone + make synth with empty package caches", flush=True)
    clone = scratch / "first-run"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)  # noqa: S607 -- git from PATH
    env = {
        k: v
        for k, v in child_env().items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV") and not k.startswith("UV_")
    }
    env.update({"UV_CACHE_DIR": str(scratch / "uv-cache"), "npm_config_cache": str(scratch / "npm-cache")})
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(REPO)))
    seconds, error = timed_run(["make", "synth"], cwd=clone, env=env)
    venv = clone / ".venv"
    return {
        "command": f"git clone {REPO} <tmp> && cd <tmp> && make synth (empty UV_CACHE_DIR and npm cache)",
        "seconds": seconds,
        "venv_bytes": _directory_bytes(venv) if venv.exists() else None,
        "error": error,
    }


def measure_bus_quotas(
    workspace: Path, scratch: Path, models: Sequence[int], environments: Sequence[str]
) -> dict[str, Any]:
    """Event-bus policy size and wildcard rules per bus (bench/quotas.py): one cold synth per count and environment."""

    def synth(extra: Mapping[str, str]) -> tuple[float, str | None, Path]:
        return synth_once(workspace, "app.py", cdk_context(extra), scratch)

    return quotas.measure_quotas(synth, scratch, models, environments)


# Approvals that bring the serving-side functions into the templates (batch windows, promotion copiers): a fresh
# clone's default synth serves nothing, so those functions would only get guessed variables. The Model Monitor
# backend's functions are in neither synth and keep guessed ones.
EXAMPLE_APPROVALS = Path("config") / "approved-models.example.json"


def served_synth(workspace: Path, scratch: Path) -> Path | None:
    """``app.py`` with the example approvals (every environment serves): the templates the handlers' variables come
    from. ``None`` when the synth did not complete."""
    _, error, outdir = synth_once(
        workspace, "app.py", cdk_context({"approved_models": str(workspace / EXAMPLE_APPROVALS)}), scratch
    )
    return outdir if completed(error) else None


def measure_lambdas(workspace: Path, outdirs: Sequence[Path | None], runs: int) -> list[dict[str, Any]]:
    """Import time and asset size of every handler, with the variables its synthesized function gets in any of
    the assemblies ``outdirs``."""
    print("lambda: handler imports", flush=True)
    templates = [Path(r["template"]) for outdir in outdirs for r in _templates(outdir)]
    synthesized = lambdas.template_environments(templates)
    return [
        asdict(lambdas.measure_handler(handler, child_env(), synthesized, runs))
        for handler in lambdas.discover_handlers(workspace)
    ]


def _templates(outdir: Path | None) -> list[dict[str, str]]:
    if outdir is None or not (outdir / "manifest.json").exists():
        return []
    from scripts.synth_report import collect

    return [{"template": str(r.template)} for r in collect(outdir)]


_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


def parse_pytest_counts(summary: str) -> dict[str, int]:
    """Counts from pytest's last summary line, e.g. ``3 failed, 120 passed in 40.1s``."""
    return {("errors" if kind == "error" else kind): int(n) for n, kind in _COUNT.findall(summary)}


# Installed, not committed, and used by `make test`: the pinned Node for jsii and checkov's own venv (without it
# the checkov test skips itself). The snapshot links them from the repository rather than installing them again.
INSTALLED_TOOLS = ("node_modules", ".venv-checkov")


def link_installed_tools(workspace: Path, source: Path = REPO) -> Path:
    """Link each of ``INSTALLED_TOOLS`` that ``source`` has into ``workspace``; returns ``workspace``."""
    for name in INSTALLED_TOOLS:
        if (source / name).exists() and not (workspace / name).exists():
            (workspace / name).symlink_to((source / name).resolve(), target_is_directory=True)
    return workspace


def measure_tests(workdir: Path = REPO) -> dict[str, Any]:
    """Run the whole suite once, as ``make test`` does, in ``workdir``; wall time and counts (never asserted).

    ``main`` passes a fresh snapshot of the working tree: the render and lint caches start empty, as on a fresh
    clone, so their fills are part of the time.
    """
    print("tests: python -m pytest -n 2 --dist worksteal -q (empty render and lint caches)", flush=True)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "worksteal", "-q"],
        cwd=workdir,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=SYNTH_TIMEOUT_S,
    )
    wall = time.perf_counter() - start
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if _COUNT.search(line)), lines[-1] if lines else "")
    return {"wall_s": wall, "exit_code": result.returncode, "counts": parse_pytest_counts(summary), "summary": summary}


def _version(command: Sequence[str]) -> str | None:
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, check=False, env=child_env(), timeout=60)
    except OSError:
        return None
    return result.stdout.strip().split("\n")[0] or None


def _package(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8") if Path("/proc/cpuinfo").exists() else ""
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text(encoding="utf-8") if Path("/proc/meminfo").exists() else ""
    memory = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    cli_package = REPO / "node_modules" / "aws-cdk" / "package.json"
    return {
        "cpu_model": cpu.group(1).strip() if cpu else platform.processor() or None,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": int(memory.group(1)) / 1024 / 1024 if memory else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "node": _version(["node", "--version"]),
        "cdk_cli": json.loads(cli_package.read_text(encoding="utf-8"))["version"] if cli_package.exists() else None,
        "aws_cdk_lib": _package("aws-cdk-lib"),
        "constructs": _package("constructs"),
        "cdk_nag": _package("cdk-nag"),
        "jsii": _package("jsii"),
        "sagemaker": _package("sagemaker"),
        "cfn_lint": _package("cfn-lint"),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; ``--quick`` is a smoke pass (2 runs, 1 and 3 models, no tests, no first run)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed warm runs per synth measurement (default 5)")
    parser.add_argument("--scale-runs", type=int, help="warm runs per model count (default: --runs)")
    parser.add_argument("--models", default="1,10,50,200", help="model counts for the scale test (default 1,10,50,200)")
    parser.add_argument("--skip-first-run", action="store_true", help="do not time make synth on a fresh clone")
    parser.add_argument("--quick", action="store_true", help="smoke pass: 2 runs, models 1,3, no test suite")
    parser.add_argument("--skip-tests", action="store_true", help="do not run the test suite")
    parser.add_argument("--skip-scale", action="store_true", help="do not run the scale test")
    parser.add_argument(
        "--quota-models", default="50,200", help="model counts for the event-bus quota synths (default 50,200)"
    )
    parser.add_argument(
        "--quota-envs",
        default=",".join(quotas.QUOTA_ENVIRONMENTS),
        help="environments synthesized (each alone) for the event-bus quotas (default dev,prod)",
    )
    parser.add_argument("--skip-quotas", action="store_true", help="do not run the event-bus quota synths")
    parser.add_argument("--output", type=Path, default=RESULTS, help="directory for latest.json and latest.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = min(args.runs, 2)
        args.scale_runs = 1
        args.models = "1,3" if args.models == "1,10,50,200" else args.models
        args.skip_first_run = True
        args.quota_models = "3" if args.quota_models == "50,200" else args.quota_models
        args.skip_tests = True
    args.scale_runs = args.scale_runs or args.runs
    try:
        args.model_counts = sorted({int(n) for n in args.models.split(",") if n.strip()})
    except ValueError:
        parser.error(f"--models {args.models!r}: expected comma-separated integers such as 1,10,50")
    try:
        args.quota_model_counts = sorted({int(n) for n in args.quota_models.split(",") if n.strip()})
    except ValueError:
        parser.error(f"--quota-models {args.quota_models!r}: expected comma-separated integers such as 50,200")
    args.quota_environments = [name.strip() for name in args.quota_envs.split(",") if name.strip()]
    if not args.skip_quotas and (
        not args.quota_model_counts or min(args.quota_model_counts) < 1 or not args.quota_environments
    ):
        parser.error("--quota-models needs counts of at least 1 and --quota-envs at least one environment")
    if args.runs < 1 or args.scale_runs < 1 or not args.model_counts or min(args.model_counts) < 1:
        parser.error("--runs, --scale-runs and every --models count must be at least 1")
    return args


def write_report(result: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """Judge the targets and write ``latest.json`` and ``latest.md`` under ``directory``."""
    result["targets"] = report.evaluate_targets(result)
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "latest.json", directory / "latest.md"
    json_path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    md_path.write_text(report.format_markdown(result), encoding="utf-8")
    return json_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    """Run every measurement and write the report; the exit code is 0 even when targets are missed."""
    args = parse_args(argv)
    result: dict[str, Any] = {
        "schema_version": 1,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "options": {
            "runs": args.runs,
            "scale_runs": args.scale_runs,
            "models": args.model_counts,
            "quick": args.quick,
            "tests": not args.skip_tests,
            "first_run": not args.skip_first_run,
            "quota_models": [] if args.skip_quotas else args.quota_model_counts,
            "quota_environments": [] if args.skip_quotas else args.quota_environments,
        },
        "machine": machine(),
    }
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as temp:
        scratch = Path(temp)
        print(f"bench: snapshot of the working tree in {scratch / 'repo'}", flush=True)
        workspace = snapshot(scratch / "repo")
        result["synth"], full_outdir = measure_synth(workspace, scratch, args.runs)
        result["lambda"] = measure_lambdas(workspace, [full_outdir, served_synth(workspace, scratch)], args.runs)
        if not args.skip_scale:
            result["scale"] = measure_scale(workspace, scratch, args.model_counts, args.scale_runs)
        if not args.skip_quotas:
            result["quotas"] = measure_bus_quotas(workspace, scratch, args.quota_model_counts, args.quota_environments)
        if not args.skip_first_run:
            result["first_run"] = measure_first_run(scratch)
        if not args.skip_tests:
            result["tests"] = measure_tests(link_installed_tools(snapshot(scratch / "tests-repo")))
    json_path, md_path = write_report(result, args.output)
    print(report.format_markdown(result))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
