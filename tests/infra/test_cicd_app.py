"""app.py and build_platform: the app synthesizes with and without the pipeline stack, as context selects."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, parse_config
from stacks.cicd_stack import ACCESS_STACK_ID, CICD_STACK_ID
from stacks.platform import cicd_enabled
from tests.conftest import REPO, build_app, cdk_feature_flags, raw_default_config

SOURCE = Path("config/platform.yaml")


def _without_connection() -> Any:
    raw = copy.deepcopy(raw_default_config())
    del raw["tooling"]["connection_arn"]
    return parse_config(raw, source=SOURCE)


def test_pipeline_is_on_by_default_when_the_config_has_a_connection(default_config: Any) -> None:
    assert cicd_enabled(default_config, None, None) is True
    assert cicd_enabled(_without_connection(), None, None) is False


@pytest.mark.parametrize("value", ["false", "False", "0", "no", False])
def test_context_cicd_false_disables_it(default_config: Any, value: object) -> None:
    assert cicd_enabled(default_config, value, None) is False


def test_narrowing_to_one_environment_leaves_the_pipeline_out(default_config: Any) -> None:
    assert cicd_enabled(default_config, None, "staging") is False
    with pytest.raises(ConfigError, match="-c cicd=true with -c env=staging"):
        cicd_enabled(default_config, "true", "staging")


def test_bad_cicd_values_and_missing_connection_fail_clearly(default_config: Any) -> None:
    with pytest.raises(ConfigError, match=r"-c cicd=maybe: allowed: true or false"):
        cicd_enabled(default_config, "maybe", None)
    with pytest.raises(ConfigError, match=r"tooling\.connection_arn is not set"):
        cicd_enabled(_without_connection(), "true", None)


def test_build_platform_refuses_a_pipeline_over_some_environments(default_config: Any) -> None:
    with pytest.raises(ConfigError, match="the pipeline deploys every environment, but dev, prod"):
        build_app(default_config, environments=["staging"], with_cicd=True)
    with pytest.raises(ConfigError, match=r"tooling\.connection_arn"):
        build_app(_without_connection(), with_cicd=True)


def test_without_cicd_there_is_no_pipeline_nor_access_stack(default_app: Any) -> None:
    app, stages = default_app
    assert app.node.try_find_child(CICD_STACK_ID) is None
    assert all(stage.node.try_find_child(ACCESS_STACK_ID) is None for stage in stages.values())


def _synth_app_py(tmp_path: Path, context: dict[str, Any]) -> dict[str, Any]:
    """Run app.py as the CDK CLI does (context in CDK_CONTEXT_JSON) and return the cloud assembly manifest."""
    outdir = tmp_path / "cdk.out"
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(
            {**cdk_feature_flags(), "approved_models": str(tmp_path / "none.json"), **context}
        ),
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads((outdir / "manifest.json").read_text(encoding="utf-8")))


def _stacks(manifest: dict[str, Any]) -> set[str]:
    return {name for name, artifact in manifest["artifacts"].items() if artifact["type"] == "aws:cloudformation:stack"}


def test_app_py_synthesizes_the_pipeline_by_default(tmp_path: Path) -> None:
    manifest = _synth_app_py(tmp_path, {})
    assert _stacks(manifest) == {"Cicd"}  # the environments are nested assemblies, deployed by the pipeline
    nested = {
        a["properties"]["directoryName"] for a in manifest["artifacts"].values() if a["type"] == "cdk:cloud-assembly"
    }
    assert nested == {"assembly-dev", "assembly-staging", "assembly-prod"}
    for env in ("dev", "staging", "prod"):
        inner = json.loads((tmp_path / "cdk.out" / f"assembly-{env}" / "manifest.json").read_text(encoding="utf-8"))
        assert any(name.startswith(f"{env}CicdAccess") for name in _stacks(inner))


def test_app_py_synthesizes_the_environments_alone_with_cicd_false(tmp_path: Path) -> None:
    manifest = _synth_app_py(tmp_path, {"cicd": "false"})
    assert _stacks(manifest) == set()
    inner = json.loads((tmp_path / "cdk.out" / "assembly-dev" / "manifest.json").read_text(encoding="utf-8"))
    assert not any("CicdAccess" in name for name in _stacks(inner))
