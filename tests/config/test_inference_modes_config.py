"""The rules of the inference modes of issue 16: each refused value names its file, field, value and what is allowed,
and the value next to the limit passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_config import ConfigError, PlatformConfig, load_config, parse_config
from tests.conftest import REPO, raw_default_config

EXAMPLE = REPO / "config" / "examples" / "inference-modes.yaml"
PRODUCTION_V2 = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-breast-cancer/2"


def parse_with(env: str, serving: dict[str, Any], environment: dict[str, Any] | None = None) -> PlatformConfig:
    raw = raw_default_config()
    raw["models"][0]["environments"].setdefault(env, {})["serving"] = serving
    raw["models"][0]["environments"][env].pop("monitoring", None)
    if environment:
        next(e for e in raw["environments"] if e["name"] == env).update(environment)
    return parse_config(raw, source=Path("platform.yaml"))


def refused(env: str, serving: dict[str, Any], environment: dict[str, Any] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_with(env, serving, environment)
    return str(caught.value)


SHARED = {"inference_components": {"instance_type": "ml.m5.xlarge"}}


def test_example_configuration_loads_with_one_model_per_mode() -> None:
    config = load_config(EXAMPLE)
    modes = {m.name: m.in_environment("staging").serving for m in config.models}
    assert modes["claims-async"].mode == "async"
    assert modes["claims-async"].async_inference.autoscaling.min_capacity == 0
    assert modes["breast-cancer"].realtime.shadow is not None
    assert modes["breast-cancer"].realtime.shadow.traffic_percent == 25
    assert [m.mode for m in (modes["triage-ic"], modes["routing-ic"])] == ["components", "components"]
    shared = config.environment("staging").inference_components
    assert shared is not None and (shared.min_instances, shared.max_instances) == (0, 2)
    # Components capture no data: endpoint-only monitoring by default; async keeps the drift monitor.
    assert config.models[2].in_environment("staging").monitoring.backend == "endpoint_only"
    assert config.models[1].in_environment("staging").monitoring.backend == "open"


# --- scale to zero only where AWS allows it ---


def test_realtime_endpoint_cannot_scale_to_zero() -> None:
    message = refused("prod", {"mode": "realtime", "realtime": {"autoscaling": {"min_capacity": 0}}})
    assert "models[0].environments.prod.serving.realtime.autoscaling.min_capacity" in message
    assert "a real-time endpoint cannot scale to zero instances" in message
    assert "serving.mode 'async'" in message and "'components'" in message


def test_async_endpoint_may_scale_to_zero() -> None:
    config = parse_with("prod", {"mode": "async", "async_inference": {"autoscaling": {"min_capacity": 0}}})
    assert config.models[0].in_environment("prod").serving.async_inference.autoscaling.min_capacity == 0


# --- asynchronous endpoints ---


@pytest.mark.parametrize(
    ("async_inference", "words"),
    [
        ({"max_concurrent_invocations_per_instance": 0}, ["max_concurrent_invocations_per_instance", "1"]),
        ({"max_concurrent_invocations_per_instance": 1001}, ["max_concurrent_invocations_per_instance", "1000"]),
        (
            {"output_prefix": "s3://someone-elses-bucket/out/"},
            ["async_inference.output_prefix", "is a URI", "only to the environment's own buckets"],
        ),
        (
            {"failure_prefix": "s3://x/failures/"},
            ["async_inference.failure_prefix", "is a URI", "prefix of this environment's data bucket"],
        ),
        (
            {"input_prefix": "jobs/", "output_prefix": "jobs/results/"},
            ["input_prefix 'jobs/' and output_prefix 'jobs/results/' overlap", "disjoint prefixes"],
        ),
        (
            {"initial_instance_count": 3, "autoscaling": {"max_capacity": 2}},
            ["initial_instance_count (3) is outside autoscaling [1, 2]"],
        ),
        ({"autoscaling": {"min_capacity": 3, "max_capacity": 2}}, ["max_capacity (2) is below min_capacity (3)"]),
        ({"instance_type": "ml.nope.large"}, ["async_inference.instance_type", "not a SageMaker endpoint instance"]),
        ({"alarms": {"oldest_request_age_seconds": 10}}, ["oldest_request_age_seconds", "60"]),
    ],
)
def test_async_mistakes_are_named(async_inference: dict[str, Any], words: list[str]) -> None:
    message = refused("prod", {"mode": "async", "async_inference": async_inference})
    assert "platform.yaml: models[0].environments.prod.serving.async_inference" in message
    for word in words:
        assert word in message


def test_async_bounds_accept_their_limits() -> None:
    config = parse_with(
        "prod",
        {
            "mode": "async",
            "async_inference": {"max_concurrent_invocations_per_instance": 1000, "output_prefix": "results/"},
        },
    )
    settings = config.models[0].in_environment("prod").serving.async_inference
    assert settings.max_concurrent_invocations_per_instance == 1000
    assert settings.prefixes("m") == ("m/async/input/", "results/", "m/async/failures/")


# --- shadow tests ---


@pytest.mark.parametrize(
    ("shadow", "words"),
    [
        ({"production_package_arn": PRODUCTION_V2, "traffic_percent": 0}, ["traffic_percent", "greater than 0"]),
        ({"production_package_arn": PRODUCTION_V2, "traffic_percent": 101}, ["traffic_percent", "100"]),
        ({"production_package_arn": PRODUCTION_V2, "traffic_percent": 0.5}, ["traffic_percent", "allowed: 1-100"]),
        ({"production_package_arn": "v2"}, ["production_package_arn", "not a versioned model package ARN"]),
        (
            {"production_package_arn": "arn:aws:sagemaker:eu-west-1:999999999999:model-package/mlops-breast-cancer/2"},
            ["shadow.production_package_arn", "account '999999999999' is not the registry's '111111111111'"],
        ),
        (
            {"production_package_arn": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-other/2"},
            ["shadow.production_package_arn", "group 'mlops-other' is not the registry's 'mlops-breast-cancer'"],
        ),
        ({"production_package_arn": PRODUCTION_V2, "latency_ratio": 1}, ["latency_ratio", "greater than 1"]),
        (
            {"production_package_arn": PRODUCTION_V2, "prediction_drift_threshold": 0},
            ["shadow.prediction_drift_threshold: 0: Input should be greater than 0"],
        ),
        (
            {"production_package_arn": PRODUCTION_V2, "prediction_drift_threshold": 11},
            ["shadow.prediction_drift_threshold: 11: Input should be less than or equal to 10"],
        ),
    ],
)
def test_shadow_mistakes_are_named(shadow: dict[str, Any], words: list[str]) -> None:
    message = refused("prod", {"mode": "realtime", "realtime": {"shadow": shadow}})
    assert "models[0].environments.prod.serving.realtime.shadow" in message
    for word in words:
        assert word in message


def test_shadow_of_the_pinned_candidate_itself_is_refused() -> None:
    message = refused(
        "prod",
        {
            "mode": "realtime",
            "model_package_arn": PRODUCTION_V2,
            "realtime": {"shadow": {"production_package_arn": PRODUCTION_V2}},
        },
    )
    assert "serving.realtime.shadow.production_package_arn: the pinned candidate" in message
    assert "is the production package itself" in message


def test_shadow_percent_limits_pass() -> None:
    for percent in (1, 100):
        config = parse_with(
            "prod",
            {
                "mode": "realtime",
                "realtime": {"shadow": {"production_package_arn": PRODUCTION_V2, "traffic_percent": percent}},
            },
        )
        shadow = config.models[0].in_environment("prod").serving.realtime.shadow
        assert shadow is not None and shadow.traffic_percent == percent


def test_shadow_copies_every_request_by_default() -> None:
    # AWS's only documented shadow endpoint config gives both variants weight 1: every request is copied.
    config = parse_with("prod", {"mode": "realtime", "realtime": {"shadow": {"production_package_arn": PRODUCTION_V2}}})
    shadow = config.models[0].in_environment("prod").serving.realtime.shadow
    assert shadow is not None and shadow.traffic_percent == 100


# --- inference components ---


def test_components_need_the_environments_shared_endpoint() -> None:
    message = refused("staging", {"mode": "components"})
    assert (
        "models[0].environments.staging.serving.mode: 'components' needs the environment's shared endpoint" in message
    )
    assert "environments[1] (staging) sets no inference_components" in message


@pytest.mark.parametrize("instance_type", ["ml.t2.medium", "ml.t2.large"])
def test_components_need_real_time_instances_with_fixed_resources(instance_type: str) -> None:
    message = refused("staging", {"mode": "components"}, {"inference_components": {"instance_type": instance_type}})
    assert "environments[1].inference_components.instance_type" in message
    assert "is a burstable instance" in message and "allowed: a real-time hosting instance" in message


def test_components_need_a_hosting_instance_type_at_all() -> None:
    message = refused("staging", {"mode": "components"}, {"inference_components": {"instance_type": "ml.m5.huge"}})
    assert "inference_components.instance_type" in message and "not a SageMaker endpoint instance type" in message


def test_accelerators_need_an_accelerated_shared_instance() -> None:
    serving = {"mode": "components", "inference_component": {"compute": {"accelerator_devices": 1}}}
    message = refused("staging", serving, SHARED)
    assert "serving.inference_component.compute.accelerator_devices: 1 accelerator(s) per copy" in message
    assert "'ml.m5.xlarge' has none" in message
    config = parse_with("staging", serving, {"inference_components": {"instance_type": "ml.g5.xlarge"}})
    assert config.models[0].in_environment("staging").serving.inference_component.compute.accelerator_devices == 1


@pytest.mark.parametrize(
    ("component", "words"),
    [
        ({"compute": {"min_memory_mb": 64}}, ["min_memory_mb", "128"]),
        ({"compute": {"cpu_cores": 0.1}}, ["cpu_cores", "0.25"]),
        ({"autoscaling": {"min_copies": 3, "max_copies": 2}}, ["max_copies (2) is below min_copies (3)"]),
        ({"initial_copies": 4, "autoscaling": {"max_copies": 3}}, ["initial_copies (4) is outside autoscaling [1, 3]"]),
    ],
)
def test_component_mistakes_are_named(component: dict[str, Any], words: list[str]) -> None:
    message = refused("staging", {"mode": "components", "inference_component": component}, SHARED)
    assert "models[0].environments.staging.serving.inference_component" in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("shared", "words"),
    [
        ({"min_instances": 2, "max_instances": 1}, ["max_instances (1) is below min_instances (2)"]),
        ({"initial_instance_count": 3, "max_instances": 2}, ["initial_instance_count (3) is outside [1, 2]"]),
    ],
)
def test_shared_endpoint_mistakes_are_named(shared: dict[str, Any], words: list[str]) -> None:
    message = refused(
        "staging", {"mode": "components"}, {"inference_components": {"instance_type": "ml.m5.xlarge", **shared}}
    )
    assert "environments[1].inference_components" in message
    for word in words:
        assert word in message


def test_components_may_scale_to_zero_copies_and_instances() -> None:
    config = parse_with(
        "staging",
        {"mode": "components", "inference_component": {"autoscaling": {"min_copies": 0}}},
        {"inference_components": {"instance_type": "ml.m5.xlarge", "min_instances": 0}},
    )
    assert config.models[0].in_environment("staging").serving.inference_component.autoscaling.min_copies == 0


# --- data capture and the monitoring backend ---


@pytest.mark.parametrize("mode", ["serverless", "components"])
def test_no_capture_based_monitoring_where_nothing_is_captured(mode: str) -> None:
    serving = {"mode": mode}
    raw = raw_default_config()
    raw["models"][0]["environments"]["staging"] = {"serving": serving, "monitoring": {"backend": "open"}}
    next(e for e in raw["environments"] if e["name"] == "staging").update(SHARED)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source=Path("platform.yaml"))
    message = str(caught.value)
    assert "models[0].environments.staging.monitoring" in message
    assert f"backend: 'open' reads endpoint data capture, which {mode} endpoints don't have" in message


def test_no_data_capture_setting_on_serverless() -> None:
    message = refused("dev", {"mode": "serverless", "serverless": {"data_capture_percent": 20}})
    assert "models[0].environments.dev.serving.serverless: unknown key(s) 'data_capture_percent'" in message
    assert "allowed keys: baking_seconds, max_concurrency, memory_size_mb, provisioned_concurrency" in message
