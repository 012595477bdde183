"""Mutation testing of one Lambda folder (``make mutate-lambda FN=<folder>``), from a staging directory.

mutmut 3 names a mutant after its file path relative to where it runs (``lambda/retrain_trigger/retrain.py`` gives
``lambda.retrain_trigger.retrain.x_...``) and its trampoline only switches a mutant on when that name's module part
equals the function's ``__module__``. A Lambda folder is a top-level package at run time (the runtime puts the asset
root on ``sys.path``; the tests do the same and ``import retrain``), so ``__module__`` is ``retrain`` and, run from the
repository root, no test ever reaches a Lambda mutant ("no tests" for every one).

So each function folder gets its own run in ``build/mutate-<folder>/``:
- ``src`` links to ``lambda/<folder>``: mutmut strips a leading ``src.`` from mutant names, so the mutants of
  ``src/retrain.py`` are named ``retrain.x_...``, which is what the tests import;
- ``mutants/lambda/<folder>`` links to ``mutants/src`` (the mutated copy), so the tests' own path,
  ``<repo>/lambda/<folder>``, resolves to the instrumented code and they are not edited for mutmut;
- ``tests``, ``pipeline_defs``, ``mlops_config``, ``mlops_constructs`` link to the repository's, and mutmut copies
  them into ``mutants/`` as it copies any test support;
- ``pyproject.toml`` carries the repository's pytest settings and a ``[tool.mutmut]`` naming only this function's
  tests, single-process.

``handler.py`` is not mutated: the tests load it by path under a fresh module name per cold start
(``retrain_trigger_handler_3``), which no mutant name can match; handlers are kept thin for that reason (parse the
event, call the logic, return), and the logic modules are mutated.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The tests that exercise each function folder: a run uses only these (minutes, not the whole suite).
TESTS_BY_FUNCTION: dict[str, list[str]] = {
    "retrain_trigger": [
        "tests/lambda_/test_retrain_trigger.py",
        "tests/lambda_/test_retrain_trigger_alarm_sources.py",
        "tests/lambda_/test_retrain_trigger_config.py",
        "tests/lambda_/test_retrain_trigger_excerpt_exact.py",
        "tests/lambda_/test_retrain_trigger_faults.py",
        "tests/lambda_/test_retrain_trigger_guards.py",
        "tests/lambda_/test_retrain_trigger_handle_exact.py",
        "tests/lambda_/test_retrain_trigger_models.py",
        "tests/lambda_/test_retrain_trigger_parse_exact.py",
        "tests/lambda_/test_retrain_trigger_queue_exact.py",
        "tests/lambda_/test_retrain_trigger_queue.py",
        "tests/lambda_/test_retrain_trigger_rejections.py",
        "tests/lambda_/test_retrain_trigger_settings_exact.py",
    ],
    "monitor_bridge": [
        "tests/lambda_/test_monitor_bridge.py",
        "tests/lambda_/test_monitor_bridge_hostile.py",
        "tests/lambda_/test_monitor_bridge_exact.py",
        "tests/lambda_/test_monitor_bridge_parse_exact.py",
        "tests/lambda_/test_monitor_bridge_read_exact.py",
        "tests/lambda_/test_monitor_bridge_translate_exact.py",
    ],
    "batch_window": [
        "tests/lambda_/test_batch_window.py",
        "tests/lambda_/test_batch_window_drain_exact.py",
        "tests/lambda_/test_batch_window_exact.py",
        "tests/lambda_/test_batch_window_key_exact.py",
        "tests/lambda_/test_batch_window_settings_exact.py",
    ],
    "clarify_config": [
        "tests/lambda_/test_clarify_config.py",
        "tests/lambda_/test_clarify_config_exact.py",
        "tests/lambda_/test_clarify_config_write_exact.py",
    ],
    "promote_model": [
        "tests/lambda_/test_promote_model.py",
        "tests/lambda_/test_promote_model_copy_exact.py",
        "tests/lambda_/test_promote_model_exact.py",
        "tests/lambda_/test_promote_model_request_exact.py",
    ],
}
SUPPORT = ("tests", "pipeline_defs", "mlops_config", "mlops_constructs")


def _toml_value(value: object) -> str:
    """TOML for the strings, booleans and lists of strings that the settings below hold (JSON spells them alike)."""
    return json.dumps(value)


def stage_pyproject(function: str, tests: list[str] | None = None) -> str:
    """The staging run's pyproject.toml: the repository's pytest settings and this function's mutmut settings.

    ``tests`` narrows the run to some test files (those that exercise the mutated functions); default: all of the
    folder's tests in ``TESTS_BY_FUNCTION``.
    """
    tool = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    pytest_settings = tool["pytest"]["ini_options"]
    mutmut_settings: dict[str, object] = {
        "source_paths": ["src/"],
        "do_not_mutate": ["src/handler.py"],
        "also_copy": [name + "/" for name in SUPPORT if name != "tests"],
        # the repository's: single-process, and without the tests of the files themselves (asset contents), which
        # mutmut's instrumented copies break whatever the mutant
        "pytest_add_cli_args": tool["mutmut"]["pytest_add_cli_args"],
        "pytest_add_cli_args_test_selection": tests or TESTS_BY_FUNCTION[function],
    }
    lines = ["[tool.pytest.ini_options]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in pytest_settings.items()]
    lines += ["", "[tool.mutmut]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in mutmut_settings.items()]
    return "\n".join(lines) + "\n"


def build_stage(function: str, tests: list[str] | None = None) -> Path:
    """A fresh ``build/mutate-<function>/`` (earlier results are dropped: the sources may have changed)."""
    stage = REPO / "build" / f"mutate-{function}"
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "mutants" / "lambda").mkdir(parents=True)
    (stage / "src").symlink_to(Path("..", "..", "lambda", function))
    for name in SUPPORT:
        (stage / name).symlink_to(Path("..", "..", name))
    (stage / "mutants" / "lambda" / function).symlink_to(Path("..", "src"))
    (stage / "pyproject.toml").write_text(stage_pyproject(function, tests), encoding="utf-8")
    return stage


def main(argv: list[str]) -> int:
    """Stage, run mutmut (optionally narrowed to mutant-name globs such as ``retrain.x_decide*``), list results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("function", choices=sorted(TESTS_BY_FUNCTION))
    parser.add_argument("mutants", nargs="*", help="mutant-name globs, e.g. 'retrain.x_*' or 'bridge.x_read*'")
    parser.add_argument("--max-children", default="2", help="mutmut's parallel test runs (default 2)")
    parser.add_argument(
        "--tests",
        action="append",
        metavar="PATH",
        help="only this test file (repeatable; default: all of the folder's); a narrowed run says so in its report",
    )
    args = parser.parse_intermixed_args(argv)  # globs may follow the options
    stage = build_stage(args.function, args.tests)
    mutmut = str(Path(sys.executable).parent / "mutmut")
    run = subprocess.run([mutmut, "run", "--max-children", args.max_children, *args.mutants], cwd=stage, check=False)
    subprocess.run([mutmut, "results"], cwd=stage, check=False)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
