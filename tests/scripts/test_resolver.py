"""The approved-model resolver against moto's model registry: latest Approved wins, per serving environment."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_config import PlatformConfig, parse_config
from mlops_config.approved import load_approved_models
from tests.conftest import REPO, raw_default_config

GROUP = "mlops-breast-cancer"
# The shipped configuration's other model: its group exists but holds nothing approved, so it is left out.
OTHER_GROUPS = ("mlops-diabetes",)


def create_groups(client: Any) -> None:
    """The registry as the data stack creates it: one group per configured model."""
    for group in (GROUP, *OTHER_GROUPS):
        client.create_model_package_group(ModelPackageGroupName=group)


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "resolve_approved_models", REPO / "scripts" / "resolve_approved_models.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


resolver = _load_script()


@pytest.fixture
def sagemaker() -> Iterator[Any]:
    """A moto SageMaker client in the registry's region (moto started before the client)."""
    with mock_aws():
        yield boto3.client("sagemaker", region_name="eu-west-1")


def register(client: Any, status: str, group: str = GROUP) -> str:
    """Register a package version with ``status``; returns its ARN."""
    return str(
        client.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
    )


def config_with(**serving_per_env: dict[str, Any]) -> PlatformConfig:
    """The shipped config with the model's serving settings replaced per environment."""
    raw = raw_default_config()
    environments = raw["models"][0]["environments"]
    for env, serving in serving_per_env.items():
        environments.setdefault(env, {})["serving"] = serving
    return parse_config(raw, source=Path("test.yaml"))


def test_latest_approved_wins_over_newer_rejected_and_pending(sagemaker: Any, default_config: PlatformConfig) -> None:
    create_groups(sagemaker)
    first = register(sagemaker, "Approved")
    second = register(sagemaker, "Approved")
    register(sagemaker, "Rejected")
    register(sagemaker, "PendingManualApproval")

    approved = resolver.resolve(default_config, sagemaker)

    assert second != first
    assert approved == {env: {"breast-cancer": second} for env in ("dev", "staging", "prod")}


def test_approval_of_an_older_version_after_a_rejection(sagemaker: Any, default_config: PlatformConfig) -> None:
    create_groups(sagemaker)
    approved_one = register(sagemaker, "Approved")
    pending = register(sagemaker, "PendingManualApproval")
    sagemaker.update_model_package(ModelPackageArn=pending, ModelApprovalStatus="Approved")
    register(sagemaker, "Rejected")

    result = resolver.resolve(default_config, sagemaker)

    assert result["prod"]["breast-cancer"] == pending != approved_one


def test_many_versions_are_paginated(sagemaker: Any, default_config: PlatformConfig) -> None:
    create_groups(sagemaker)
    arns = [register(sagemaker, "Approved") for _ in range(12)]
    for _ in range(3):
        register(sagemaker, "Rejected")
    calls: list[dict[str, Any]] = []
    sagemaker.meta.events.register(
        "provide-client-params.sagemaker.ListModelPackages", lambda params, **_: calls.append(dict(params))
    )
    original = sagemaker.get_paginator

    def small_pages(name: str) -> Any:
        paginator = original(name)
        real = paginator.paginate
        paginator.paginate = lambda **kwargs: real(**kwargs, PaginationConfig={"PageSize": 5})
        return paginator

    sagemaker.get_paginator = small_pages

    result = resolver.resolve(default_config, sagemaker)

    assert result["dev"]["breast-cancer"] == arns[-1]
    assert len(calls) >= 3, "12 approved versions in pages of 5 need at least three calls"
    assert all(call["ModelApprovalStatus"] == "Approved" for call in calls)
    assert all(call["SortBy"] == "CreationTime" and call["SortOrder"] == "Descending" for call in calls)


def test_no_approved_package_leaves_the_model_out(sagemaker: Any, default_config: PlatformConfig, caplog: Any) -> None:
    create_groups(sagemaker)
    register(sagemaker, "PendingManualApproval")
    register(sagemaker, "Rejected")

    with caplog.at_level("WARNING"):
        assert resolver.resolve(default_config, sagemaker) == {}
    assert "no Approved package" in caplog.text and GROUP in caplog.text


def test_missing_package_group_is_a_clear_error(sagemaker: Any, default_config: PlatformConfig) -> None:
    with pytest.raises(resolver.ResolveError, match=f"model package group '{GROUP}' does not exist"):
        resolver.resolve(default_config, sagemaker)


def test_only_environments_that_serve_the_model_get_it(sagemaker: Any) -> None:
    config = config_with(dev={"mode": "none"}, staging={"mode": "none", "batch": {"enabled": True}})
    create_groups(sagemaker)
    arn = register(sagemaker, "Approved")

    assert resolver.resolve(config, sagemaker) == {"staging": {"breast-cancer": arn}, "prod": {"breast-cancer": arn}}


def test_cli_writes_a_file_that_synth_accepts(
    tmp_path: Path, default_config: PlatformConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "approved-models.json"
    # The registry is the dev account: synth refuses packages of any other account (mlops_config.approved).
    monkeypatch.setenv("MOTO_ACCOUNT_ID", default_config.registry.account)
    with mock_aws():
        client = boto3.client("sagemaker", region_name="eu-west-1")
        create_groups(client)
        arn = register(client, "Approved")
        code = resolver.main(["--config", str(REPO / "config" / "platform.yaml"), "--out", str(out)])

    assert code == 0
    assert json.loads(out.read_text())["prod"] == {"breast-cancer": arn}
    assert load_approved_models(out, default_config)["staging"]["breast-cancer"] == arn


def test_cli_exits_non_zero_without_a_package_group(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "approved-models.json"
    with mock_aws():
        config = str(REPO / "config" / "platform.yaml")
        code = resolver.main(["--config", config, "--out", str(out)])

    assert code == 1
    assert "does not exist in the registry" in capsys.readouterr().err
    assert not out.exists()


def test_baselines_are_no_longer_resolved(capsys: Any) -> None:
    """Promotion copies a package's baselines at deploy; the resolver has no cross-account baselines file."""
    with pytest.raises(SystemExit):
        resolver.main(["--baselines-out", "model-baselines.json"])
    assert "unrecognized arguments: --baselines-out" in capsys.readouterr().err
