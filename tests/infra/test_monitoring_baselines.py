"""Model Monitor reads the drift-check baselines recorded on the served package (the resolver's baselines file).

The baselines sit in the registry environment's artifact bucket (dev, account 111111111111); prod (account
333333333333) reads exactly those objects and decrypts them through S3 with the registry key's alias. Kinds whose
baselines the package does not record keep the configured prefix in prod's own bucket.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from mlops_config import ConfigError, PlatformConfig
from tests.conftest import build_app

MODEL = "breast-cancer"
PACKAGE = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/3"
APPROVED = {env: {MODEL: PACKAGE} for env in ("dev", "staging", "prod")}
REGISTRY_BUCKET = "mlops-dev-models-111111111111-eu-west-1"
RUN = f"s3://{REGISTRY_BUCKET}/pipelines/run-7"
PROD_PREFIX = f"s3://mlops-prod-models-333333333333-eu-west-1/{MODEL}/baselines"
ALL_BASELINES = {
    "data_statistics": f"{RUN}/data-quality/statistics.json",
    "data_constraints": f"{RUN}/data-quality/constraints.json",
    "model_quality_statistics": f"{RUN}/model-quality/statistics.json",
    "model_quality_constraints": f"{RUN}/model-quality/constraints.json",
    "bias_config": f"{RUN}/bias/analysis_config.json",
    "bias_constraints": f"{RUN}/bias/constraints.json",
    "explainability_config": f"{RUN}/explainability/analysis_config.json",
    "explainability_constraints": f"{RUN}/explainability/constraints.json",
}
# Model quality complete; data quality and bias each missing one of their files (so those kinds fall back whole);
# nothing for explainability.
PARTIAL_BASELINES = {
    "data_constraints": ALL_BASELINES["data_constraints"],
    "model_quality_constraints": ALL_BASELINES["model_quality_constraints"],
    "bias_config": ALL_BASELINES["bias_config"],
}


@pytest.fixture(scope="module")
def model_monitor_config() -> PlatformConfig:
    """The shipped configuration with prod on Model Monitor and all four kinds (the shipped one has no Model Monitor:
    AWS closed it to new customers)."""
    from mlops_config import parse_config
    from tests.conftest import raw_default_config

    raw = raw_default_config()
    raw["models"][0]["environments"]["prod"]["monitoring"] = {
        "backend": "model_monitor",
        "bias": True,
        "explainability": True,
    }
    return parse_config(raw, source=Path("test.yaml"))


def _prod_template(config: PlatformConfig, baselines: dict[str, str], outdir: Path) -> tuple[Template, Path]:
    app, stages = build_app(
        config, approved=APPROVED, baselines={PACKAGE: baselines}, environments=["prod"], outdir=outdir
    )
    app.synth()  # cdk-nag runs here: every new finding must be acknowledged
    stack = stages["prod"].monitoring[MODEL]
    return Template.from_stack(stack), Path(stages["prod"].outdir) / stack.template_file


@pytest.fixture(scope="module")
def full(model_monitor_config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, Path]:
    """prod's monitoring template when the served package records every baseline."""
    return _prod_template(model_monitor_config, ALL_BASELINES, tmp_path_factory.mktemp("cdk.out.baselines"))


@pytest.fixture(scope="module")
def partial(model_monitor_config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, Path]:
    """prod's monitoring template when the package records only some baselines."""
    return _prod_template(model_monitor_config, PARTIAL_BASELINES, tmp_path_factory.mktemp("cdk.out.partial"))


def _job(template: Template, kind: str) -> dict[str, Any]:
    (props,) = [r["Properties"] for r in template.find_resources(f"AWS::SageMaker::{kind}JobDefinition").values()]
    return dict(props)


def _baseline_uris(template: Template) -> dict[str, str]:
    data, quality = _job(template, "DataQuality"), _job(template, "ModelQuality")
    bias, explain = _job(template, "ModelBias"), _job(template, "ModelExplainability")
    # The explainability job reads the served model's copy of the analysis config, written from the baseline.
    (writer,) = [r["Properties"] for r in template.find_resources("Custom::ClarifyAnalysisConfig").values()]
    return {
        "data_statistics": data["DataQualityBaselineConfig"]["StatisticsResource"]["S3Uri"],
        "data_constraints": data["DataQualityBaselineConfig"]["ConstraintsResource"]["S3Uri"],
        "model_quality_constraints": quality["ModelQualityBaselineConfig"]["ConstraintsResource"]["S3Uri"],
        "bias_config": bias["ModelBiasAppSpecification"]["ConfigUri"],
        "bias_constraints": bias["ModelBiasBaselineConfig"]["ConstraintsResource"]["S3Uri"],
        "explainability_config": f"s3://{writer['SourceBucket']}/{writer['SourceKey']}",
        "explainability_constraints": explain["ModelExplainabilityBaselineConfig"]["ConstraintsResource"]["S3Uri"],
    }


def _monitor_role_statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if any(role["Ref"].startswith("ModelMonitorRole") for role in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _mentions(value: Any, text: str) -> bool:
    return text in str(value)


def test_every_job_definition_uses_the_packages_baselines(full: tuple[Template, Path]) -> None:
    template, _ = full
    expected = {key: uri for key, uri in ALL_BASELINES.items() if key != "model_quality_statistics"}
    assert _baseline_uris(template) == expected


def test_monitor_role_reads_exactly_those_objects_and_decrypts_through_s3(full: tuple[Template, Path]) -> None:
    template, _ = full
    statements = _monitor_role_statements(template)
    reads = [s for s in statements if s.get("Sid") == "ReadPackageBaselines"]
    assert reads == [
        {
            "Sid": "ReadPackageBaselines",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": sorted(
                f"arn:aws:s3:::{REGISTRY_BUCKET}/{uri.removeprefix(f's3://{REGISTRY_BUCKET}/')}"
                for key, uri in ALL_BASELINES.items()
                if key != "model_quality_statistics"
            ),
        }
    ]
    # Nothing else in the registry's bucket: not its other objects, not a listing.
    others = [s for s in statements if s is not reads[0] and _mentions(s["Resource"], REGISTRY_BUCKET)]
    assert others == []
    decrypts = [s for s in statements if s.get("Sid") == "DecryptPackageBaselinesViaS3"]
    assert decrypts == [
        {
            "Sid": "DecryptPackageBaselinesViaS3",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "arn:aws:kms:eu-west-1:111111111111:key/*",
            "Condition": {
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/mlops-dev-data"},
                "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
            },
        }
    ]
    # The only statement naming another account's keys is that conditioned one.
    assert [s for s in statements if _mentions(s["Resource"], ":111111111111:")] == decrypts


def test_kinds_the_package_does_not_cover_keep_the_configured_prefix(partial: tuple[Template, Path]) -> None:
    template, _ = partial
    assert _baseline_uris(template) == {
        # Constraints alone do not make the data-quality kind: both of its files come from the prefix.
        "data_statistics": f"{PROD_PREFIX}/data-quality/statistics.json",
        "data_constraints": f"{PROD_PREFIX}/data-quality/constraints.json",
        "model_quality_constraints": ALL_BASELINES["model_quality_constraints"],
        "bias_config": f"{PROD_PREFIX}/bias/analysis_config.json",
        "bias_constraints": f"{PROD_PREFIX}/bias/constraints.json",
        "explainability_config": f"{PROD_PREFIX}/explainability/analysis_config.json",
        "explainability_constraints": f"{PROD_PREFIX}/explainability/constraints.json",
    }
    (reads,) = [s for s in _monitor_role_statements(template) if s.get("Sid") == "ReadPackageBaselines"]
    assert reads["Resource"] == f"arn:aws:s3:::{REGISTRY_BUCKET}/pipelines/run-7/model-quality/constraints.json"


def test_templates_with_package_baselines_are_cfn_lint_clean(
    full: tuple[Template, Path], partial: tuple[Template, Path]
) -> None:
    from scripts.synth_report import lint

    paths = [full[1], partial[1]]
    assert all(path.exists() for path in paths)
    assert lint(paths) == []


def test_a_baseline_outside_the_registry_bucket_is_refused(model_monitor_config: PlatformConfig) -> None:
    elsewhere = {**ALL_BASELINES, "bias_constraints": "s3://someone-elses-bucket/bias/constraints.json"}
    with pytest.raises(ConfigError) as caught:
        build_app(model_monitor_config, approved=APPROVED, baselines={PACKAGE: elsewhere}, environments=["prod"])
    message = str(caught.value)
    assert f"{PACKAGE}.bias_constraints" in message
    assert "'s3://someone-elses-bucket/bias/constraints.json'" in message
    assert f"allowed: s3://{REGISTRY_BUCKET}/<key>" in message


def test_baselines_of_another_package_are_not_used(model_monitor_config: PlatformConfig) -> None:
    other = PACKAGE[:-1] + "2"
    _, stages = build_app(
        model_monitor_config, approved=APPROVED, baselines={other: ALL_BASELINES}, environments=["prod"]
    )
    monitoring = stages["prod"].monitoring[MODEL]
    assert monitoring.package_baselines == {}
    template = Template.from_stack(monitoring)
    assert _baseline_uris(template)["data_constraints"] == f"{PROD_PREFIX}/data-quality/constraints.json"
    assert not [s for s in _monitor_role_statements(template) if _mentions(s["Resource"], REGISTRY_BUCKET)]


def test_app_py_reads_the_baselines_file_named_by_context(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    path = tmp_path / "baselines.json"
    path.write_text(json.dumps({PACKAGE: {"data_constraints": "not-a-uri"}}), encoding="utf-8")
    context = {"approved_models": str(tmp_path / "none.json"), "model_baselines": str(path)}
    # The CDK CLI hands context to app.py in this variable; the file is checked before anything is built.
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path / "out")},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {path}: {PACKAGE}.data_constraints: 'not-a-uri' is not an S3 object URI; allowed: s3://<bucket>/<key>"
    )


def test_in_the_registry_environment_its_own_bucket_grant_covers_them() -> None:
    from mlops_config import parse_config
    from tests.conftest import raw_default_config

    raw = raw_default_config()
    dev = raw["models"][0]["environments"]["dev"]
    dev["serving"] = {"mode": "realtime", "realtime": {"instance_type": "ml.m5.large"}}
    dev["monitoring"] = {"backend": "model_monitor"}
    config = parse_config(raw, source=Path("test.yaml"))

    _, stages = build_app(config, approved=APPROVED, baselines={PACKAGE: ALL_BASELINES}, environments=["dev"])

    template = Template.from_stack(stages["dev"].monitoring[MODEL])
    data = _job(template, "DataQuality")
    assert data["DataQualityBaselineConfig"]["ConstraintsResource"]["S3Uri"] == ALL_BASELINES["data_constraints"]
    statements = _monitor_role_statements(template)
    sids = {s.get("Sid") for s in statements}
    assert not sids & {"ReadPackageBaselines", "DecryptPackageBaselinesViaS3"}
    # The role reads the environment's (= the registry's) artifact bucket as it always did.
    assert any(_mentions(s["Resource"], f"arn:aws:s3:::{REGISTRY_BUCKET}/*") for s in statements)


def _writer_statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if any(role["Ref"].startswith("ExplainabilityConfigRole") for role in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_explainability_config_writer_decrypts_the_registry_key_only_for_the_packages_config(
    full: tuple[Template, Path], partial: tuple[Template, Path]
) -> None:
    # full: the package records the explainability config (registry bucket, registry key); partial: the prefix.
    full_sids = {s.get("Sid") for s in _writer_statements(full[0])}
    partial_statements = _writer_statements(partial[0])
    assert "DecryptPackageBaselinesViaS3" in full_sids
    assert not [s for s in partial_statements if _mentions(s["Resource"], ":111111111111:")]
    assert not [s for s in partial_statements if _mentions(s["Resource"], REGISTRY_BUCKET)]
