"""The integration tests' offline snapshot comparison (integ/snapshots.py, ``make integ-snapshots``).

Every ``integ/integ_*.py`` is synthesized once, as integ-runner's snapshot step would (its placeholder account
and Region, no credentials), all in one process as ``make integ-snapshots`` does, and must match its committed
snapshot; a stale copy of a snapshot must fail with the file and the change named.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

INTEG = Path(__file__).resolve().parents[2] / "integ"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"integ_{name}_module", INTEG / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


snapshots = _load("snapshots")
TESTS = snapshots.integ_tests()


_SYNTH_DIR = tempfile.TemporaryDirectory(prefix="integ-snapshots-")


@functools.cache
def _all_synthesized() -> dict[str, dict[str, str]]:
    """Every integration test synthesized once per process, in one child process (about 30 s in all). The tests
    that use it ask for the ``integ_snapshots`` fixture, which tests/conftest.py keeps on one xdist worker."""
    return snapshots.synthesize(TESTS, Path(_SYNTH_DIR.name))


@pytest.fixture
def integ_snapshots() -> Callable[[str], dict[str, str]]:
    """The snapshot files one integration test synthesizes, by test file name."""
    return lambda name: _all_synthesized()[name]


def test_every_scenario_has_an_integration_test() -> None:
    assert {test.name for test in TESTS} >= {
        "integ_training.py",
        "integ_serving.py",
        "integ_serving_rollout.py",
        "integ_serving_rollback.py",
        "integ_monitoring.py",
        "integ_promotion.py",
    }


@pytest.mark.parametrize("test", TESTS, ids=[test.name for test in TESTS])
def test_snapshot_is_current(integ_snapshots: Callable[[str], dict[str, str]], test: Path) -> None:
    problems = snapshots.compare(integ_snapshots(test.name), snapshots.snapshot_dir(test))
    assert problems == [], "\n".join(problems) + "\nreview, then `make integ-snapshots UPDATE=1`"


@pytest.mark.parametrize("test", TESTS, ids=[test.name for test in TESTS])
def test_snapshot_is_synthesized_for_the_placeholder_account(
    integ_snapshots: Callable[[str], dict[str, str]], test: Path
) -> None:
    manifest = json.loads(integ_snapshots(test.name)["integ.json"])
    (case,) = manifest["testCases"].values()
    assert case["assertionStack"] and case["stacks"]
    # Stacks carry the harness's snapshot account, never a real or the runner's 8-digit one.
    text = "".join(integ_snapshots(test.name).values())
    assert '12345678"' not in text


def test_a_stale_snapshot_fails_naming_the_file_and_the_change(
    integ_snapshots: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    test = INTEG / "integ_training.py"
    stale = tmp_path / snapshots.snapshot_dir(test).name
    shutil.copytree(snapshots.snapshot_dir(test), stale)
    template = stale / "itrain-dev-Training-breast-cancer.template.json"
    body: dict[str, Any] = json.loads(template.read_text(encoding="utf-8"))
    pipeline = next(r for r in body["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline")
    pipeline["Properties"]["PipelineName"] = "renamed-by-the-test"
    template.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    problems = snapshots.compare(integ_snapshots(test.name), stale)

    assert len(problems) == 1
    assert problems[0].startswith(f"{stale.name}/itrain-dev-Training-breast-cancer.template.json: changed")
    assert '-    "PipelineName": "renamed-by-the-test"' in problems[0]


def test_a_missing_or_extra_snapshot_file_fails(
    integ_snapshots: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    test = INTEG / "integ_training.py"
    stale = tmp_path / snapshots.snapshot_dir(test).name
    shutil.copytree(snapshots.snapshot_dir(test), stale)
    (stale / "itrain-dev-Fixture.template.json").unlink()
    (stale / "gone-Stack.template.json").write_text("{}\n", encoding="utf-8")

    problems = snapshots.compare(integ_snapshots(test.name), stale)

    assert any("itrain-dev-Fixture.template.json: not in the snapshot (new)" in p for p in problems)
    assert any("gone-Stack.template.json: in the snapshot but no longer synthesized" in p for p in problems)


def test_run_exits_non_zero_on_a_stale_snapshot(
    integ_snapshots: Callable[[str], dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    test = INTEG / "integ_training.py"
    # run() synthesizes its tests; the one synthesis of integ_training.py this process already made (by the same
    # snapshots.synthesize) stands in for a second one. What is tested here is run's verdict and report.
    already = integ_snapshots(test.name)
    calls: list[list[str]] = []

    def synthesize_once(tests: list[Path], root: Path) -> dict[str, dict[str, str]]:
        calls.append([path.name for path in tests])
        return {"integ_training.py": already}

    monkeypatch.setattr(snapshots, "synthesize", synthesize_once)
    shutil.copytree(snapshots.snapshot_dir(test), tmp_path / snapshots.snapshot_dir(test).name)
    template = tmp_path / snapshots.snapshot_dir(test).name / "itrain-dev-Data.template.json"
    template.write_text(template.read_text(encoding="utf-8").replace('"Resources"', '"Resourcez"', 1))

    assert snapshots.run([test], update=False, snapshots_in=tmp_path) == 1
    assert calls == [["integ_training.py"]]
    out = capsys.readouterr().out
    assert "CHANGED    integ_training.py" in out
    assert "itrain-dev-Data.template.json: changed" in out


def test_synth_runs_without_credentials_in_integ_runners_snapshot_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def fake_run(command: list[str], **kwargs: Any) -> Any:
        seen.update(kwargs, command=command)

        class Failed:
            returncode = 1
            stderr = "synth error shown to the user"

        return Failed()

    monkeypatch.setenv("AWS_PROFILE", "someone")
    monkeypatch.setattr(snapshots.subprocess, "run", fake_run)
    tests = [INTEG / "integ_training.py", INTEG / "integ_serving.py"]
    with pytest.raises(
        RuntimeError,
        match=r"integ_training.py, integ_serving.py: synth failed \(exit 1\):\nsynth error shown to the user",
    ):
        snapshots.synthesize(tests, tmp_path)
    env = seen["env"]
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} & set(env)
    assert env["CDK_INTEG_ACCOUNT"] == "12345678" and env["CDK_INTEG_REGION"] == "test-region"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    # One process runs each test as __main__ with its own output directory, in order.
    assert seen["command"][3:] == [
        str(INTEG / "integ_training.py"),
        str(tmp_path / "integ_training"),
        str(INTEG / "integ_serving.py"),
        str(tmp_path / "integ_serving"),
    ]
    assert seen["cwd"] == INTEG
