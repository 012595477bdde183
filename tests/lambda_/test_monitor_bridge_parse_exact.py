"""Monitor bridge: the event check, the settings and the report read, exact.

Written against the survivors of ``make mutate-lambda FN=monitor_bridge MUTATE='bridge.x_parse_event*'`` (and
``BridgeSettings.from_env``, ``read_json``; README, "Development"): the handler tests matched a part of each reason
and message; here ``parse_event`` is called directly for the whole reason an operator reads, the prefix and report
file boundaries and the ``ReportObject`` it returns, the settings for every message and field, and ``read_json`` on
a recording stand-in for S3 for the exact request, the size limit's boundaries and each rejection's problem. An
ignored event is checked to read and publish nothing.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.lambda_.conftest import REPO_ROOT, FakeLambdaContext
from tests.lambda_.test_monitor_bridge import BRIDGE_ENV, BUCKET, ENDPOINT, FEATURES, OBJECT_CREATED, PREFIX, RUN

BRIDGE_DIR = str(REPO_ROOT / "lambda" / "monitor_bridge")
MAX = 16 * 1024 * 1024
ENV = BRIDGE_ENV
NAMES = ("MODEL_NAME", "ENVIRONMENT_NAME", "ENDPOINT_NAME", "REPORT_BUCKET", "REPORT_PREFIX", "FEATURES")
SHAPE = "not the shape of an S3 Object Created event"


@pytest.fixture
def settings(bridge: ModuleType) -> Any:
    return bridge.BridgeSettings.from_env(ENV)


def _event(key: str, edit: Callable[[dict[str, Any]], object] = lambda _: None) -> dict[str, Any]:
    event = copy.deepcopy(OBJECT_CREATED)
    event["detail"]["object"]["key"] = key
    edit(event)
    return event


def _ignored(bridge: ModuleType, event: object, settings: Any) -> str:
    with pytest.raises(bridge.EventRejectedError) as caught:
        bridge.parse_event(event, settings)
    return str(caught.value)


# --- parse_event -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "kind", "file_name"),
    [
        (f"{PREFIX}data-quality/{RUN}/constraint_violations.json", "data-quality", "constraint_violations.json"),
        (f"{PREFIX}model-quality/{RUN}/statistics.json", "model-quality", "statistics.json"),
        # The shortest report key: one segment (the kind) between the prefix and the file.
        (f"{PREFIX}bias/statistics.json", "bias", "statistics.json"),
    ],
    ids=["violations", "statistics", "shortest"],
)
def test_a_report_file_becomes_its_report_object(
    bridge: ModuleType, settings: Any, key: str, kind: str, file_name: str
) -> None:
    assert bridge.parse_event(_event(key), settings) == bridge.ReportObject(
        bucket=BUCKET, key=key, kind=kind, file_name=file_name
    )


@pytest.mark.parametrize(
    "event",
    [
        None,
        [OBJECT_CREATED],
        json.dumps(OBJECT_CREATED),
        _event("k", lambda e: e.pop("source")),
        _event("k", lambda e: e.update(source="aws.s3x")),
        _event("k", lambda e: e.pop("detail-type")),
        _event("k", lambda e: e.update({"detail-type": "Object Restore Completed"})),
    ],
    ids=["none", "list", "json-text", "no-source", "other-source", "no-detail-type", "other-detail-type"],
)
def test_another_kind_of_event_is_ignored_by_name(bridge: ModuleType, settings: Any, event: object) -> None:
    assert _ignored(bridge, event, settings) == "not an S3 Object Created event"


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        # Two members missing: the first that pydantic reports (the detail's field order) names the rejection.
        (lambda e: (e["detail"].pop("bucket"), e["detail"].pop("object")), f"{SHAPE}: detail.bucket: Field required"),
        (lambda e: e["detail"]["object"].pop("key"), f"{SHAPE}: detail.object.key: Field required"),
        (lambda e: e.update(account=7), f"{SHAPE}: account: Input should be a valid string"),
    ],
    ids=["two-missing", "no-key", "account-number"],
)
def test_a_malformed_event_names_its_first_bad_field(
    bridge: ModuleType, settings: Any, edit: Callable[[dict[str, Any]], object], reason: str
) -> None:
    assert _ignored(bridge, _event(f"{PREFIX}data-quality/{RUN}/statistics.json", edit), settings) == reason


@pytest.mark.parametrize(
    ("bucket", "key", "reason"),
    [
        (
            "other-bucket",
            f"{PREFIX}data-quality/{RUN}/statistics.json",
            f"s3://other-bucket/{PREFIX}data-quality/{RUN}/statistics.json is not under s3://{BUCKET}/{PREFIX}",
        ),
        (
            BUCKET,
            "breast-cancer/model-monitor-old/data-quality/statistics.json",
            f"s3://{BUCKET}/breast-cancer/model-monitor-old/data-quality/statistics.json is not under "
            f"s3://{BUCKET}/{PREFIX}",
        ),
        (BUCKET, f"{PREFIX}statistics.json", f"{PREFIX}statistics.json is not a Model Monitor report file"),
        (
            BUCKET,
            f"{PREFIX}data-quality/{RUN}/analysis_config.json",
            f"{PREFIX}data-quality/{RUN}/analysis_config.json is not a Model Monitor report file",
        ),
        (
            BUCKET,
            f"{PREFIX}data-quality/statistics.json/x",
            f"{PREFIX}data-quality/statistics.json/x is not a Model Monitor report file",
        ),
    ],
    ids=["other-bucket", "sibling-prefix", "file-at-prefix", "other-file", "file-not-last"],
)
def test_an_object_this_function_does_not_serve_is_ignored_by_name(
    bridge: ModuleType, settings: Any, bucket: str, key: str, reason: str
) -> None:
    event = _event(key, lambda e: e["detail"]["bucket"].update(name=bucket))

    assert _ignored(bridge, event, settings) == reason


def test_an_ignored_event_is_logged_and_reads_and_publishes_nothing(
    bridge: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the handler: one warning with the reason, no S3 or CloudWatch client even built."""
    for name, value in {**ENV, "POWERTOOLS_SERVICE_NAME": "monitor-bridge-parse-exact"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(BRIDGE_DIR)
    # A cold start with this test's environment, under a name of its own (as the handler tests load it).
    spec = importlib.util.spec_from_file_location("monitor_bridge_handler_parse_exact", f"{BRIDGE_DIR}/handler.py")
    assert spec is not None and spec.loader is not None
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)

    built: list[str] = []
    monkeypatch.setattr(handler, "aws_clients", lambda: built.append("clients"))
    key = f"{PREFIX}statistics.json"
    reason = f"{key} is not a Model Monitor report file"

    result = handler.lambda_handler(_event(key), FakeLambdaContext())

    assert result == {"status": "ignored", "reason": reason}
    assert built == []
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(entry["level"], entry["message"], entry["reason"]) for entry in logged] == [
        ("WARNING", "event ignored", reason)
    ]


# --- BridgeSettings.from_env ------------------------------------------------------------------------------------


def test_the_environment_becomes_the_settings(bridge: ModuleType) -> None:
    assert bridge.BridgeSettings.from_env(ENV) == bridge.BridgeSettings(
        model="breast-cancer",
        environment="prod",
        endpoint=ENDPOINT,
        bucket=BUCKET,
        report_prefix=PREFIX,
        features=tuple(FEATURES),
    )


def test_no_features_is_allowed(bridge: ModuleType) -> None:
    assert bridge.BridgeSettings.from_env({**ENV, "FEATURES": "[]"}).features == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict.fromkeys(NAMES), f"missing environment variables: {', '.join(NAMES)}"),
        ({"ENVIRONMENT_NAME": "", "FEATURES": None}, "missing environment variables: ENVIRONMENT_NAME, FEATURES"),
        ({"MODEL_NAME": None}, "missing environment variables: MODEL_NAME"),
        ({"ENDPOINT_NAME": None}, "missing environment variables: ENDPOINT_NAME"),
        ({"REPORT_BUCKET": None}, "missing environment variables: REPORT_BUCKET"),
        ({"REPORT_PREFIX": None}, "missing environment variables: REPORT_PREFIX"),
        ({"FEATURES": "mean_radius"}, "FEATURES must be a JSON list of feature names"),
        ({"FEATURES": '{"a": "b"}'}, "FEATURES must be a JSON list of feature names"),
        ({"FEATURES": '["a", 3]'}, "FEATURES must be a JSON list of feature names"),
        ({"FEATURES": '["a", ""]'}, "FEATURES must be a JSON list of feature names"),
        (
            {"REPORT_PREFIX": "breast-cancer/model-monitor"},
            "REPORT_PREFIX='breast-cancer/model-monitor' must end with '/'",
        ),
    ],
    ids=[
        "all-missing",
        "empty-and-missing",
        "no-model",
        "no-endpoint",
        "no-bucket",
        "no-prefix",
        "features-not-json",
        "features-object",
        "feature-number",
        "feature-empty",
        "prefix-without-slash",
    ],
)
def test_a_bad_environment_names_every_problem_exactly(
    bridge: ModuleType, change: dict[str, str | None], message: str
) -> None:
    env = {name: value for name, value in {**ENV, **change}.items() if value is not None}

    with pytest.raises(bridge.BridgeConfigError) as caught:
        bridge.BridgeSettings.from_env(env)

    assert str(caught.value) == message


# --- read_json --------------------------------------------------------------------------------------------------


class _Body:
    def __init__(self, data: bytes) -> None:
        self.stream = io.BytesIO(data)
        self.reads: list[int] = []

    def read(self, amount: int) -> bytes:
        self.reads.append(amount)
        return self.stream.read(amount)


class _S3:
    """GetObject answering one body (and a length, if given), or raising ``error``; each request recorded."""

    def __init__(self, data: bytes = b"{}", length: object = None, error: Exception | None = None) -> None:
        self.body = _Body(data)
        self.length = length
        self.error = error
        self.requests: list[dict[str, Any]] = []

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        if self.error is not None:
            raise self.error
        response: dict[str, Any] = {"Body": self.body}
        if self.length is not None:
            response["ContentLength"] = self.length
        return response


class _ClientError(Exception):
    """The shape of botocore's ClientError that the bridge reads: ``response["Error"]["Code"]``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": 404}}


@pytest.fixture
def report(bridge: ModuleType) -> Any:
    return bridge.ReportObject(
        bucket=BUCKET,
        key=f"{PREFIX}data-quality/{RUN}/statistics.json",
        kind="data-quality",
        file_name="statistics.json",
    )


def _problem(bridge: ModuleType, s3: _S3, report: Any) -> str:
    with pytest.raises(bridge.ReportRejectedError) as caught:
        bridge.read_json(s3, report)
    error = caught.value
    assert (error.bucket, error.key, error.field) == (report.bucket, report.key, "(object)")
    assert str(error) == f"s3://{report.bucket}/{report.key}: (object): {error.problem}"
    return str(error.problem)


def test_the_report_is_read_with_one_bounded_request(bridge: ModuleType, report: Any) -> None:
    s3 = _S3(b'\xef\xbb\xbf{"dataset": {"item_count": 7}}', length=34)

    assert bridge.read_json(s3, report) == {"dataset": {"item_count": 7}}
    assert s3.requests == [{"Bucket": BUCKET, "Key": report.key}]
    assert s3.body.reads == [MAX + 1]


@pytest.mark.parametrize("code", ["NoSuchKey", "404", "NotFound"])
def test_a_missing_object_is_rejected_by_each_of_its_codes(bridge: ModuleType, report: Any, code: str) -> None:
    problem = _problem(bridge, _S3(error=_ClientError(code)), report)

    assert problem == "the report object does not exist (deleted or overwritten since the event)"


def test_another_error_code_is_raised_unchanged(bridge: ModuleType, report: Any) -> None:
    error = _ClientError("AccessDenied")

    with pytest.raises(_ClientError) as caught:
        bridge.read_json(_S3(error=error), report)

    assert caught.value is error


def test_a_declared_length_over_the_limit_is_refused_before_reading(bridge: ModuleType, report: Any) -> None:
    s3 = _S3(b"{}", length=MAX + 1)

    assert _problem(bridge, s3, report) == f"{MAX + 1} bytes; allowed: at most {MAX}"
    assert s3.body.reads == []


def test_a_body_of_exactly_the_limit_is_read(bridge: ModuleType, report: Any) -> None:
    data = b"{}" + b" " * (MAX - 2)

    assert bridge.read_json(_S3(data, length=MAX), report) == {}


def test_a_body_longer_than_the_limit_is_refused_whatever_its_declared_length(bridge: ModuleType, report: Any) -> None:
    data = b"{}" + b" " * (MAX - 1)

    assert _problem(bridge, _S3(data, length="unknown"), report) == f"more than {MAX} bytes; allowed: at most {MAX}"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "the report is empty"),
        (b" \r\n\t", "the report is empty"),
        (b'{"a": "\xc3"}', "byte 7 is not UTF-8"),
        (b'{\n  "a": }', "not JSON: line 2, column 8: Expecting value"),
        (b'{"a": Infinity}', "not plain JSON: Infinity is not a JSON number"),
        (b'{"a": -Infinity}', "not plain JSON: -Infinity is not a JSON number"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON: nested too deeply"),
    ],
    ids=["empty", "whitespace", "not-utf8", "not-json", "infinity", "minus-infinity", "deep"],
)
def test_an_unreadable_report_is_rejected_with_its_problem(
    bridge: ModuleType, report: Any, data: bytes, problem: str
) -> None:
    assert _problem(bridge, _S3(data), report) == problem
