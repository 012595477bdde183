"""The smoke test on the inference modes of issue 16: asynchronous endpoints (moto S3 + a Stubber for the runtime)
and inference components (the component's name on the shared endpoint)."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from moto import mock_aws

from mlops_config import PlatformConfig, load_config
from tests.conftest import REPO
from tests.scripts.test_smoke_test import smoke

EXAMPLE = REPO / "config" / "examples" / "inference-modes.yaml"
BUCKET = "mlops-staging-data-222222222222-eu-west-1"
ASYNC_ENDPOINT = "mlops-staging-claims-async-async-m5-large"
SHARED_ENDPOINT = "mlops-staging-shared-ic-m5-xlarge"


def package(model: str, version: int = 1) -> str:
    return f"arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-{model}/{version}"


@pytest.fixture(scope="module")
def example() -> PlatformConfig:
    return load_config(EXAMPLE)


class FakeClock:
    """A clock that advances only when the smoke test sleeps; records the sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def async_check(example: PlatformConfig) -> Any:
    checks = smoke.endpoints_to_check(example, "staging", {"staging": {"claims-async": package("claims-async")}})
    assert len(checks) == 1
    return checks[0]


def test_async_and_component_endpoints_are_found_with_how_to_invoke_them(example: PlatformConfig) -> None:
    approved = {"staging": {name: package(name) for name in ("claims-async", "triage-ic", "routing-ic")}}
    checks = smoke.endpoints_to_check(example, "staging", approved)
    assert [(c.model, c.endpoint_name, c.inference_component, c.async_input) for c in checks] == [
        ("claims-async", ASYNC_ENDPOINT, None, (BUCKET, "claims-async/async/input/")),
        ("triage-ic", SHARED_ENDPOINT, "mlops-staging-triage-ic", None),
        ("routing-ic", SHARED_ENDPOINT, "mlops-staging-routing-ic", None),
    ]


def _stub_async(stubber: Stubber, output: str, failure: str) -> None:
    stubber.add_response(
        "invoke_endpoint_async",
        {"InferenceId": "i-1", "OutputLocation": output, "FailureLocation": failure},
        {
            "EndpointName": ASYNC_ENDPOINT,
            "InputLocation": ANY,
            "ContentType": "text/csv",
            "Accept": "text/csv",
        },
    )


def test_async_request_is_uploaded_queued_and_its_result_awaited(example: PlatformConfig) -> None:
    check = async_check(example)
    clock = FakeClock()
    output = f"s3://{BUCKET}/claims-async/async/output/i-1.out"
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")

        def result_arrives(seconds: float) -> None:
            clock.sleep(seconds)
            if len(clock.sleeps) == 2:  # the model answers after the second poll
                s3.put_object(Bucket=BUCKET, Key="claims-async/async/output/i-1.out", Body=b"0.9\n0.1\n")

        with Stubber(runtime) as stubber:
            _stub_async(stubber, output, f"s3://{BUCKET}/claims-async/async/failures/i-1.out")
            wait = smoke.AsyncWait(timeout_seconds=60, poll_seconds=5, clock=clock.clock, sleep=result_arrives)
            assert smoke.check_async_endpoint(runtime, s3, check, 2, wait) == [0.9, 0.1]
            stubber.assert_no_pending_responses()
        uploaded = s3.list_objects_v2(Bucket=BUCKET, Prefix="claims-async/async/input/smoke-test/")["Contents"]
        assert len(uploaded) == 1 and uploaded[0]["Key"].endswith(".csv")
        body = s3.get_object(Bucket=BUCKET, Key=uploaded[0]["Key"])["Body"].read().decode()
        assert body == smoke.sample_csv(2)
    assert clock.sleeps == [5, 5]


def test_async_failure_object_fails_the_check(example: PlatformConfig) -> None:
    check = async_check(example)
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket=BUCKET, Key="claims-async/async/failures/i-1.out", Body=b"ModelError: bad input")
        runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
        with Stubber(runtime) as stubber:
            _stub_async(
                stubber,
                f"s3://{BUCKET}/claims-async/async/output/i-1.out",
                f"s3://{BUCKET}/claims-async/async/failures/i-1.out",
            )
            with pytest.raises(smoke.SmokeTestError, match=r"the asynchronous request failed .*ModelError: bad input"):
                smoke.check_async_endpoint(runtime, s3, check, 2, smoke.AsyncWait(sleep=lambda _: None))


def test_async_timeout_names_the_missing_result(example: PlatformConfig) -> None:
    check = async_check(example)
    clock = FakeClock()
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
        with Stubber(runtime) as stubber:
            _stub_async(stubber, f"s3://{BUCKET}/out/x.out", f"s3://{BUCKET}/fail/x.out")
            wait = smoke.AsyncWait(timeout_seconds=30, poll_seconds=10, clock=clock.clock, sleep=clock.sleep)
            with pytest.raises(smoke.SmokeTestError, match=r"no result at s3://.*/out/x.out after 30s"):
                smoke.check_async_endpoint(runtime, s3, check, 2, wait)
    assert clock.sleeps == [10, 10, 10]


def test_component_is_invoked_by_name_on_the_shared_endpoint(example: PlatformConfig, capsys: Any) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    body = "0.3\n0.6\n"
    with Stubber(runtime) as stubber:
        stubber.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(body.encode()), len(body)), "ContentType": "text/csv"},
            {
                "EndpointName": SHARED_ENDPOINT,
                "InferenceComponentName": "mlops-staging-triage-ic",
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "Body": ANY,
            },
        )
        failures = smoke.run(example, "staging", {"staging": {"triage-ic": package("triage-ic")}}, runtime, 2)
        stubber.assert_no_pending_responses()
    assert failures == []
    assert f"ok: {SHARED_ENDPOINT} answered 2 probabilities (triage-ic)" in capsys.readouterr().out


def test_async_endpoint_without_s3_client_is_a_failure_not_a_crash(example: PlatformConfig) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    failures = smoke.run(example, "staging", {"staging": {"claims-async": package("claims-async")}}, runtime, 2)
    assert failures == [f"{ASYNC_ENDPOINT} (claims-async): an asynchronous endpoint needs an S3 client"]
