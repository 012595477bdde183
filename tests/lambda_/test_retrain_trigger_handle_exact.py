"""Retrain trigger: ``handle_trigger`` exact, on recording fakes of the two clients and an injected clock.

Written against the survivors of ``make mutate-lambda FN=retrain_trigger MUTATE='retrain.x_handle_trigger*'``
(README, "Development"): the handler tests (moto, one Stubber) check which guard answered, but not every skip's
detail, the guards' exact boundaries (a cool-down or the 24 hours that end exactly now, a start that looks to be in
the future), their order, nor the exact StartPipelineExecution request. Every skip is checked to start nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import retrain
from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
EVENT_TIME = datetime(2025, 6, 2, 11, 59, tzinfo=UTC)
NEW_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/churn-dev-training/execution/new"
OLD_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/churn-dev-training/execution/old"
ALARM = retrain.AlarmTrigger(event_id="ev-1", event_time=EVENT_TIME, alarm_name="churn-dev-feature-drift")
SCHEDULE = retrain.ScheduleTrigger(event_id="ev-2", event_time=EVENT_TIME, schedule="churn-dev-weekly")
NEW_DATA = retrain.NewDataTrigger(event_id="ev-3", event_time=EVENT_TIME, key="churn/training/x.csv", size=10)


class _SageMaker:
    """One page of history; every StartPipelineExecution request recorded."""

    def __init__(self, summaries: list[dict[str, Any]]) -> None:
        self.summaries = summaries
        self.starts: list[dict[str, Any]] = []

    def list_pipeline_executions(self, **_: Any) -> dict[str, Any]:
        return {"PipelineExecutionSummaries": self.summaries}

    def start_pipeline_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.starts.append(kwargs)
        return {"PipelineExecutionArn": NEW_ARN}


class _S3:
    """Pages of ListObjectsV2, served in order; every request recorded."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.requests: list[dict[str, Any]] = []

    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        return self.pages[len(self.requests) - 1]


class _Logger:
    """Records the error lines (the only level ``handle_trigger``'s calls write)."""

    def __init__(self) -> None:
        self.errors: list[dict[str, object]] = []

    def info(self, msg: object, *, extra: Mapping[str, object] | None = None) -> None:
        pass

    def warning(self, msg: object, *, extra: Mapping[str, object] | None = None) -> None:
        pass

    def error(self, msg: object, *, extra: Mapping[str, object] | None = None) -> None:
        self.errors.append(dict(extra or {}))


def _summary(name: str = "schedule-weekly-0123456789abcdef", status: str = "Succeeded", **extra: Any) -> dict[str, Any]:
    summary = {"PipelineExecutionArn": OLD_ARN, "PipelineExecutionDisplayName": name, "PipelineExecutionStatus": status}
    return summary | extra


def _objects(count: int, size: int = 10, modified: datetime = NOW) -> dict[str, Any]:
    contents = [{"Key": f"churn/training/{i}.csv", "Size": size, "LastModified": modified} for i in range(count)]
    return {"Contents": contents, "IsTruncated": False}


@pytest.fixture
def make_settings(retrain_env: dict[str, str]) -> Callable[..., retrain.Settings]:
    def build(**changes: str) -> retrain.Settings:
        return retrain.Settings.from_env({**retrain_env, **changes})

    return build


def _handle(
    trigger: retrain.Trigger,
    settings: retrain.Settings,
    history: list[dict[str, Any]] | None = None,
    pages: list[dict[str, Any]] | None = None,
    logger: _Logger | None = None,
) -> tuple[retrain.Outcome, _SageMaker, _S3]:
    sagemaker, s3 = _SageMaker(history or []), _S3(pages or [])
    outcome = retrain.handle_trigger(
        trigger,
        settings=settings,
        clients=retrain.AwsClients(sagemaker=sagemaker, s3=s3),
        clock=lambda: NOW,
        logger=logger or _Logger(),
    )
    return outcome, sagemaker, s3


def _token(dedup_key: str) -> str:
    return hashlib.sha256(f"churn-dev-training|{dedup_key}".encode()).hexdigest()


def test_an_alarm_starts_with_the_exact_request_and_outcome(make_settings: Callable[..., retrain.Settings]) -> None:
    token = _token("aws.cloudwatch|ev-1")
    display = f"alarm-churn-dev-feature-drift-{token[:16]}"

    outcome, sagemaker, s3 = _handle(ALARM, make_settings())

    assert sagemaker.starts == [
        {
            "PipelineName": "churn-dev-training",
            "PipelineExecutionDisplayName": display,
            "PipelineExecutionDescription": "Retraining churn (dev) because alarm:churn-dev-feature-drift. "
            "Source event: aws.cloudwatch id ev-1 at 2025-06-02T11:59:00+00:00",
            "PipelineParameters": [{"Name": "TriggerReason", "Value": "alarm:churn-dev-feature-drift"}],
            "ClientRequestToken": token,
        }
    ]
    assert outcome == retrain.Outcome(
        "started", "started", f"started {display}", "alarm:churn-dev-feature-drift", NEW_ARN
    )
    assert s3.requests == []  # only new data is counted


def test_a_schedule_starts_with_its_name_as_the_reason(make_settings: Callable[..., retrain.Settings]) -> None:
    outcome, sagemaker, _ = _handle(SCHEDULE, make_settings(TRIGGER_PARAMETER_NAME="Why"))

    (request,) = sagemaker.starts
    assert request["PipelineParameters"] == [{"Name": "Why", "Value": "schedule:churn-dev-weekly"}]
    assert outcome.trigger_reason == "schedule:churn-dev-weekly"


@pytest.mark.parametrize(
    ("truncated", "reason"), [(False, "new-data:3 objects"), (True, "new-data:3+ objects")], ids=["complete", "partial"]
)
def test_new_data_starts_with_the_count_in_reason_and_display_name(
    make_settings: Callable[..., retrain.Settings], *, truncated: bool, reason: str
) -> None:
    page = _objects(3) | {"IsTruncated": truncated, "NextContinuationToken": "t"}
    token = _token("aws.s3|ev-3")

    outcome, sagemaker, _ = _handle(NEW_DATA, make_settings(), pages=[page])

    (request,) = sagemaker.starts
    assert request["PipelineExecutionDisplayName"] == f"new-data-3-objects-{token[:16]}"
    assert request["PipelineParameters"] == [{"Name": "TriggerReason", "Value": reason}]
    assert request["PipelineExecutionDescription"].endswith(
        "; object s3://mlops-dev-training-data/churn/training/x.csv"
    )
    assert (outcome.status, outcome.trigger_reason) == ("started", reason)


def test_too_little_new_data_is_skipped_with_the_counts_and_thresholds(
    make_settings: Callable[..., retrain.Settings],
) -> None:
    outcome, sagemaker, _ = _handle(NEW_DATA, make_settings(MIN_NEW_BYTES="100"), pages=[_objects(2)])

    assert outcome == retrain.Outcome(
        "skipped", "not-enough-new-data", "2 new objects / 20 bytes since ever; need 3 objects or 100 bytes"
    )
    assert sagemaker.starts == []


def test_new_data_is_counted_since_the_last_start_and_a_stopped_listing_says_so(
    make_settings: Callable[..., retrain.Settings],
) -> None:
    last = NOW - timedelta(hours=2)
    history = [_summary(StartTime=last)]
    old = _objects(1000, modified=last) | {"IsTruncated": True, "NextContinuationToken": "t"}

    outcome, sagemaker, s3 = _handle(NEW_DATA, make_settings(MAX_LISTED_OBJECTS="1000"), history, [old])

    assert outcome == retrain.Outcome(
        "skipped",
        "not-enough-new-data",
        "0 new objects / 0 bytes since 2025-06-02T10:00:00+00:00; need 3 objects or 0 bytes"
        " (listing stopped at 1000 keys)",
    )
    assert len(s3.requests) == 1
    assert sagemaker.starts == []


def test_a_redelivered_event_is_a_duplicate_before_any_other_guard(
    make_settings: Callable[..., retrain.Settings],
) -> None:
    tag = _token("aws.cloudwatch|ev-1")[:16]
    # Also running and just started: the duplicate answers first.
    history = [_summary(f"alarm-other-{tag}", "Executing", StartTime=NOW)]

    outcome, sagemaker, _ = _handle(ALARM, make_settings(), history)

    assert outcome == retrain.Outcome("skipped", "duplicate-event", f"event already started {OLD_ARN}", None, OLD_ARN)
    assert sagemaker.starts == []


def test_a_name_ending_in_the_tag_without_its_dash_is_no_duplicate(
    make_settings: Callable[..., retrain.Settings],
) -> None:
    tag = _token("aws.cloudwatch|ev-1")[:16]
    history = [_summary(f"alarm{tag}", StartTime=NOW - timedelta(hours=2))]

    outcome, sagemaker, _ = _handle(ALARM, make_settings(), history)

    assert outcome.status == "started"
    assert len(sagemaker.starts) == 1


@pytest.mark.parametrize("status", ["Executing", "Stopping"])
def test_a_running_execution_skips_before_the_cool_down(
    make_settings: Callable[..., retrain.Settings], status: str
) -> None:
    history = [_summary(status=status, StartTime=NOW - timedelta(minutes=1))]

    outcome, sagemaker, _ = _handle(ALARM, make_settings(), history)

    assert outcome == retrain.Outcome("skipped", "execution-running", f"{OLD_ARN} is {status}", None, OLD_ARN)
    assert sagemaker.starts == []


@pytest.mark.parametrize(
    ("started", "until"),
    [
        (NOW - timedelta(minutes=59), "2025-06-02T12:01:00+00:00"),
        # A start that looks to be in the future (clock skew) is within the cool-down.
        (NOW + timedelta(minutes=5), "2025-06-02T13:05:00+00:00"),
    ],
    ids=["59-minutes-ago", "in-the-future"],
)
def test_the_cool_down_skips_with_the_last_start_and_its_end(
    make_settings: Callable[..., retrain.Settings], started: datetime, until: str
) -> None:
    # The newest start is the one that counts; an execution without a start time is passed over.
    history = [_summary(StartTime=started), _summary(StartTime=NOW - timedelta(hours=5)), _summary()]

    outcome, sagemaker, _ = _handle(ALARM, make_settings(), history)

    assert outcome == retrain.Outcome(
        "skipped", "cooldown", f"last start {started.isoformat()}, cool-down until {until}", None, None
    )
    assert sagemaker.starts == []


def test_a_cool_down_ending_exactly_now_has_passed(make_settings: Callable[..., retrain.Settings]) -> None:
    outcome, sagemaker, _ = _handle(ALARM, make_settings(), [_summary(StartTime=NOW - timedelta(minutes=60))])

    assert outcome.status == "started"
    assert len(sagemaker.starts) == 1


def test_a_zero_cool_down_is_off(make_settings: Callable[..., retrain.Settings]) -> None:
    outcome, _, _ = _handle(ALARM, make_settings(COOLDOWN_MINUTES="0"), [_summary(StartTime=NOW)])

    assert outcome.status == "started"


def test_the_daily_cap_counts_starts_of_the_24_hours_before_now(make_settings: Callable[..., retrain.Settings]) -> None:
    settings = make_settings(COOLDOWN_MINUTES="0", DAILY_CAP="3")
    recent = [_summary(StartTime=NOW - timedelta(hours=hours)) for hours in (1, 2, 23)]

    capped, capped_sagemaker, _ = _handle(ALARM, settings, recent)
    # A start exactly 24 hours ago, and one without a start time, are not in the last 24 hours.
    under, under_sagemaker, _ = _handle(ALARM, settings, [*recent[:2], _summary(StartTime=NOW - timedelta(hours=24))])
    without_time, _, _ = _handle(ALARM, settings, [*recent[:2], _summary()])

    assert capped == retrain.Outcome("skipped", "daily-cap", "3 executions started in the last 24 h, cap 3")
    assert capped_sagemaker.starts == []
    assert under.status == "started"
    assert len(under_sagemaker.starts) == 1
    assert without_time.status == "started"


def test_the_reason_is_made_printable_and_cut_to_the_parameter_limit(
    make_settings: Callable[..., retrain.Settings],
) -> None:
    trigger = retrain.AlarmTrigger(event_id="ev-9", event_time=EVENT_TIME, alarm_name="a\nb" + "c" * 2000)

    outcome, sagemaker, _ = _handle(trigger, make_settings())

    reason = ("alarm:a?b" + "c" * 2000)[:1024]
    (request,) = sagemaker.starts
    assert request["PipelineParameters"] == [{"Name": "TriggerReason", "Value": reason}]
    assert outcome.trigger_reason == reason


class _FailingS3:
    def list_objects_v2(self, **_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListObjectsV2")


def test_a_failed_count_is_logged_on_the_functions_logger_and_starts_nothing(
    make_settings: Callable[..., retrain.Settings],
) -> None:
    sagemaker, logger = _SageMaker([]), _Logger()

    with pytest.raises(ClientError):
        retrain.handle_trigger(
            NEW_DATA,
            settings=make_settings(),
            clients=retrain.AwsClients(sagemaker=sagemaker, s3=_FailingS3()),
            clock=lambda: NOW,
            logger=logger,
        )

    assert [(e["operation"], e["error_code"]) for e in logger.errors] == [("ListObjectsV2", "AccessDenied")]
    assert sagemaker.starts == []
