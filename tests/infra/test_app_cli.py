"""app.py run as the CDK CLI runs it: byte-identical synths, no machine paths, the pipeline stack by default.

app.py runs once, as the CLI runs it; the second synth compared with it is the session's in-process build of the
same app (``release_app``: the same configuration, approvals and pipeline, another process and hash seed), which
other tests need anyway. How the ``cicd`` context switches the pipeline off is tested in-process
(test_cicd_app.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, cdk_feature_flags

# "default" serves an approved package everywhere, so every kind of stack is compared.
RUNS: dict[str, dict[str, Any]] = {
    "default": {"approved": True},
}


@pytest.fixture(scope="module")
def synths(tmp_path_factory: pytest.TempPathFactory, release_app: dict[str, Any]) -> dict[str, Path]:
    """Cloud assemblies keyed by run: "default" from app.py run as the CLI runs it; "again" the same app built in
    this test process (tests/conftest.py ``release_app``: config/approved-models.example.json approves the same
    package everywhere), another process with another hash seed."""
    root = tmp_path_factory.mktemp("app-cli")
    approved = root / "approved-models.json"
    # Exactly the approvals release_app was built with, in a file of the CLI run's own.
    approved.write_bytes((REPO / "config" / "approved-models.example.json").read_bytes())
    processes = {}
    for seed, (name, run) in enumerate(RUNS.items()):
        context = {"cicd": run["cicd"]} if "cicd" in run else {}
        approved_models = approved if run.get("approved") else root / "none.json"
        env = {
            **os.environ,
            "CDK_OUTDIR": str(root / name),
            "CDK_CONTEXT_JSON": json.dumps({**cdk_feature_flags(), "approved_models": str(approved_models), **context}),
            "PYTHONHASHSEED": str(seed + 1),
        }
        processes[name] = subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    for name, process in processes.items():
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, f"{name}: {stderr.decode()[-3000:]}"
    return {**{name: root / name for name in RUNS}, "again": Path(release_app["outdir"])}


def _templates(outdir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(outdir)): p.read_bytes() for p in sorted(outdir.rglob("*.template.json"))}


def _stacks(manifest: dict[str, Any]) -> set[str]:
    return {name for name, artifact in manifest["artifacts"].items() if artifact["type"] == "aws:cloudformation:stack"}


def _manifest(outdir: Path) -> dict[str, Any]:
    return dict(json.loads((outdir / "manifest.json").read_text(encoding="utf-8")))


def test_two_synths_are_byte_identical_and_free_of_machine_paths(synths: dict[str, Path], tmp_path: Path) -> None:
    first, second = _templates(synths["default"]), _templates(synths["again"])
    assert first and first.keys() == second.keys()
    for name, content in first.items():
        assert content == second[name], f"{name} differs between two synths"
        text = content.decode()
        for machine_path in (str(REPO), str(synths["default"].parent), str(Path.home()), "/tmp/"):
            assert machine_path not in text, f"{name} contains the machine path {machine_path}"
    assert any("Serving" in name and b"AWS::CloudWatch::Dashboard" in content for name, content in first.items())


def test_app_py_synthesizes_the_pipeline_by_default(synths: dict[str, Path]) -> None:
    manifest = _manifest(synths["default"])
    assert _stacks(manifest) == {"Cicd"}  # the environments are nested assemblies, deployed by the pipeline
    nested = {
        a["properties"]["directoryName"] for a in manifest["artifacts"].values() if a["type"] == "cdk:cloud-assembly"
    }
    assert nested == {"assembly-dev", "assembly-staging", "assembly-prod"}
    for env in ("dev", "staging", "prod"):
        inner = _manifest(synths["default"] / f"assembly-{env}")
        assert any(name.startswith(f"{env}CicdAccess") for name in _stacks(inner))
