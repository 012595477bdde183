"""Offline snapshot comparison of the integration tests: what each ``integ_*.py`` would deploy, against the
snapshot committed next to it (``integ_<name>.py.snapshot/``, integ-runner's folder name).

Why not ``integ-runner`` itself for this: the newest ``@aws-cdk/integ-runner`` on npm (2.197.10, pinned in
package.json for ``make integ``) bundles a toolkit that reads cloud assembly schema 53 at most, and aws-cdk-lib
2.275 writes schema 55, so its snapshot step stops with "Cloud assembly schema version mismatch" before comparing
anything (docs/testing-on-aws.md). This module does the same comparison the same way, with no CLI, no network and
no credentials: it runs each test app with integ-runner's snapshot environment (``CDK_INTEG_ACCOUNT=12345678``,
``CDK_INTEG_REGION=test-region``, ``CDK_OUTDIR``; the app reads them, ``integ/harness.py``) and compares every
template and the integ manifest (``integ.json``), asset hashes and the assertions' synth-time salts normalised
(integ-runner's default ignores asset changes too).

    python integ/snapshots.py            # compare; exit 1 naming every stale file
    python integ/snapshots.py --update   # rewrite the snapshots after an intended change (review the diff)
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

INTEG_DIR = Path(__file__).resolve().parent
ASSET_HASH = re.compile(r"[0-9a-f]{64}")
# integ-tests-alpha salts every assertion call with the synth time (Date.now()) so that it runs on every deploy.
ASSERTION_SALT = re.compile(r'"salt": "[0-9]+"')
# integ-runner's snapshot environment (lib/runner/runner-base.js, DEFAULT_SYNTH_OPTIONS.env).
SNAPSHOT_ENV: Mapping[str, str] = {"CDK_INTEG_ACCOUNT": "12345678", "CDK_INTEG_REGION": "test-region"}
# Credentials and profiles are removed from the app's environment: synth must not need them.
_DROPPED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


def integ_tests(directory: Path = INTEG_DIR) -> list[Path]:
    """Every integration test (integ-runner's Python pattern ``^integ_.*\\.py$``)."""
    return sorted(path for path in directory.glob("integ_*.py") if path.is_file())


def snapshot_dir(test: Path) -> Path:
    """integ-runner's snapshot folder of ``test``."""
    return test.with_name(f"{test.name}.snapshot")


def _normalised(text: str) -> str:
    canonical = json.dumps(json.loads(text), indent=1, sort_keys=True)
    return ASSERTION_SALT.sub('"salt": "<synth-time>"', ASSET_HASH.sub("<asset-hash>", canonical)) + "\n"


# Runs each named test as its own ``__main__`` in one Python process, one after another, with its own
# ``CDK_OUTDIR``: the interpreter, aws-cdk-lib and the jsii kernel start once instead of once per test (about 5 s
# each on a 2-core machine). Each test still builds a fresh ``cdk.App`` and writes its own assembly.
_RUN_EACH = """
import os, runpy, sys
for path, outdir in zip(sys.argv[1::2], sys.argv[2::2]):
    os.environ["CDK_OUTDIR"] = outdir
    os.chdir(os.path.dirname(path))
    if sys.path[0] != os.path.dirname(path):
        sys.path.insert(0, os.path.dirname(path))
    print(f"synthesizing {os.path.basename(path)}", file=sys.stderr, flush=True)
    runpy.run_path(path, run_name="__main__")
"""


def synthesize(tests: Iterable[Path], root: Path) -> dict[str, dict[str, str]]:
    """Run every test in ``tests`` as integ-runner's snapshot step would, in one process; return each test's
    snapshot files (test name -> file name -> normalised JSON). Each writes its assembly to ``root/<stem>``."""
    tests = list(tests)
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED}
    env.update(SNAPSHOT_ENV)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    arguments: list[str] = []
    for test in tests:
        arguments += [str(test.resolve()), str(root / test.stem)]
    result = subprocess.run(
        [sys.executable, "-c", _RUN_EACH, *arguments],
        cwd=INTEG_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        names = ", ".join(test.name for test in tests)
        raise RuntimeError(f"{names}: synth failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return {test.name: _snapshot_files(root / test.stem) for test in tests}


def _snapshot_files(outdir: Path) -> dict[str, str]:
    files = {path.name: _normalised(path.read_text(encoding="utf-8")) for path in outdir.glob("*.template.json")}
    files["integ.json"] = _normalised((outdir / "integ.json").read_text(encoding="utf-8"))
    return files


def compare(actual: Mapping[str, str], snapshot: Path) -> list[str]:
    """Differences between ``actual`` and the committed ``snapshot`` folder, one message per file."""
    problems: list[str] = []
    committed = {path.name for path in snapshot.glob("*.json")} if snapshot.is_dir() else set()
    for name in sorted(set(actual) | committed):
        if name not in committed:
            problems.append(f"{snapshot.name}/{name}: not in the snapshot (new)")
        elif name not in actual:
            problems.append(f"{snapshot.name}/{name}: in the snapshot but no longer synthesized")
        else:
            expected = (snapshot / name).read_text(encoding="utf-8")
            if expected != actual[name]:
                diff = difflib.unified_diff(
                    expected.splitlines(), actual[name].splitlines(), "snapshot", "synthesized", lineterm="", n=1
                )
                problems.append(f"{snapshot.name}/{name}: changed\n" + "\n".join(list(diff)[:40]))
    return problems


def write(actual: Mapping[str, str], snapshot: Path) -> None:
    """Replace ``snapshot`` with ``actual``."""
    snapshot.mkdir(parents=True, exist_ok=True)
    for stale in snapshot.glob("*.json"):
        if stale.name not in actual:
            stale.unlink()
    for name, text in actual.items():
        (snapshot / name).write_text(text, encoding="utf-8")


def run(tests: Iterable[Path], *, update: bool, snapshots_in: Path | None = None) -> int:
    """Compare (or with ``update`` rewrite) the snapshot of every test; 0 when all match.

    ``snapshots_in``: another folder holding the snapshot folders (default: next to each test).
    """
    tests = list(tests)
    with tempfile.TemporaryDirectory(prefix="integ-snapshot-") as outdir:
        synthesized = synthesize(tests, Path(outdir))
    failures = 0
    for test in tests:
        actual = synthesized[test.name]
        snapshot = snapshots_in / snapshot_dir(test).name if snapshots_in else snapshot_dir(test)
        if update:
            write(actual, snapshot)
            print(f"UPDATED    {test.name}")
            continue
        problems = compare(actual, snapshot)
        print(f"{'CHANGED' if problems else 'UNCHANGED':<10} {test.name}")
        for problem in problems:
            print(f"  {problem}")
        failures += bool(problems)
    if failures:
        print(f"{failures} integration test snapshot(s) stale: review, then `make integ-snapshots UPDATE=1`")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    """CLI: compare all (or the named) integration tests' snapshots."""
    parser = argparse.ArgumentParser(description="Compare the integration tests' snapshots, offline.")
    parser.add_argument("tests", nargs="*", type=Path, help="integ_*.py files (default: all in integ/)")
    parser.add_argument("--update", action="store_true", help="rewrite the snapshots")
    args = parser.parse_args(argv)
    tests = [path.resolve() for path in args.tests] or integ_tests()
    return run(tests, update=args.update)


if __name__ == "__main__":
    sys.exit(main())
