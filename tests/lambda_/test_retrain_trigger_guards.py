"""The new-data guard of the retrain trigger, pinned exactly (found by `make mutate-lambda FN=retrain_trigger`).

``count_new_data`` pages ListObjectsV2 with a recording fake, so that every request parameter, the continuation
token, the key and time filters, the byte sum and the ``complete`` flag are asserted, not only the final decision.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import retrain
from botocore.exceptions import ClientError

SINCE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class PagedBucket:
    """ListObjectsV2 over fixed pages; records each request."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.requests: list[dict[str, Any]] = []

    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(dict(kwargs))
        return self.pages[len(self.requests) - 1]


class Recording:
    def __init__(self) -> None:
        self.errors: list[tuple[object, Any]] = []

    def info(self, msg: object, *, extra: Any = None) -> None: ...
    def warning(self, msg: object, *, extra: Any = None) -> None: ...

    def error(self, msg: object, *, extra: Any = None) -> None:
        self.errors.append((msg, extra))


class Silent:
    def info(self, msg: object, *, extra: Any = None) -> None: ...
    def warning(self, msg: object, *, extra: Any = None) -> None: ...
    def error(self, msg: object, *, extra: Any = None) -> None: ...


def _item(key: str, size: int, minutes_after_since: int) -> dict[str, Any]:
    return {"Key": key, "Size": size, "LastModified": SINCE + timedelta(minutes=minutes_after_since)}


@pytest.fixture
def settings(retrain_env: dict[str, str]) -> Any:
    return retrain.Settings.from_env(retrain_env)


@pytest.mark.parametrize(
    ("min_objects", "min_bytes", "objects", "total", "enough"),
    [
        (0, 100, 0, 99, False),  # a zero object threshold is off, even with zero objects
        (0, 100, 5, 100, True),  # the byte threshold is inclusive
        (3, 0, 0, 0, False),  # a zero byte threshold is off, even with zero bytes
        (3, 0, 2, 10**9, False),
        (3, 0, 3, 0, True),  # the object threshold is inclusive
        (0, 1, 0, 1, True),  # a one-byte threshold is on
        (0, 1, 0, 0, False),
        (1, 0, 1, 0, True),
    ],
)
def test_enough_thresholds_are_inclusive_and_zero_is_off(  # noqa: PLR0917 (one parameter per table column)
    settings: Any, min_objects: int, min_bytes: int, objects: int, total: int, enough: bool
) -> None:
    tuned = dataclasses.replace(settings, min_new_objects=min_objects, min_new_bytes=min_bytes)
    assert retrain._enough(tuned, objects, total) is enough


def test_count_pages_with_the_exact_requests_and_filters(settings: Any) -> None:
    tuned = dataclasses.replace(settings, min_new_objects=0, min_new_bytes=10**12)
    bucket = PagedBucket(
        [
            {
                "Contents": [
                    _item("churn/training/dir/", 999, 5),  # a folder marker is not data, and not the end of a page
                    _item("churn/training/a.csv", 10, 1),
                    _item("churn/training/old.csv", 1000, 0),  # modified exactly at `since`: not new
                ],
                "IsTruncated": True,
                "NextContinuationToken": "token-1",
            },
            {"Contents": [_item("churn/training/b.csv", 32, 2)], "IsTruncated": False},
        ]
    )
    new = retrain.count_new_data(bucket, tuned, SINCE, Silent())
    assert new == retrain.NewData(2, 42, complete=True)
    first = {"Bucket": tuned.data_bucket, "Prefix": tuned.data_prefix, "MaxKeys": 1000}
    assert bucket.requests == [first, {**first, "ContinuationToken": "token-1"}]


def test_count_without_since_counts_everything_but_folders(settings: Any) -> None:
    tuned = dataclasses.replace(settings, min_new_objects=0, min_new_bytes=10**12)
    bucket = PagedBucket([{"Contents": [_item("churn/training/old.csv", 7, -600), _item("churn/training/x/", 5, 1)]}])
    assert retrain.count_new_data(bucket, tuned, None, Silent()) == retrain.NewData(1, 7, complete=True)


def test_count_stops_once_enough_and_says_whether_the_listing_was_complete(settings: Any) -> None:
    tuned = dataclasses.replace(settings, min_new_objects=2, min_new_bytes=0)
    truncated = {"Contents": [_item("k1", 1, 1), _item("k2", 2, 1)], "IsTruncated": True, "NextContinuationToken": "t"}
    bucket = PagedBucket([truncated, {"Contents": []}])
    assert retrain.count_new_data(bucket, tuned, SINCE, Silent()) == retrain.NewData(2, 3, complete=False)
    assert len(bucket.requests) == 1
    last = {"Contents": [_item("k1", 1, 1), _item("k2", 2, 1)], "IsTruncated": False}
    assert retrain.count_new_data(PagedBucket([last]), tuned, SINCE, Silent()) == retrain.NewData(2, 3, complete=True)


def test_count_stops_at_the_listing_cap_as_incomplete(settings: Any) -> None:
    # the cap is inclusive: four keys listed with a cap of four stop the listing
    tuned = dataclasses.replace(settings, min_new_objects=100, min_new_bytes=0, max_listed_objects=4)
    page = {"Contents": [_item("a", 1, 1), _item("b", 1, 1)], "IsTruncated": True, "NextContinuationToken": "t"}
    bucket = PagedBucket([page, page, page])
    assert retrain.count_new_data(bucket, tuned, SINCE, Silent()) == retrain.NewData(4, 4, complete=False)
    assert len(bucket.requests) == 2


def test_count_ends_when_truncated_without_a_token(settings: Any) -> None:
    tuned = dataclasses.replace(settings, min_new_objects=100, min_new_bytes=0)
    bucket = PagedBucket([{"Contents": [_item("a", 3, 1)], "IsTruncated": True}])
    assert retrain.count_new_data(bucket, tuned, SINCE, Silent()) == retrain.NewData(1, 3, complete=True)
    assert len(bucket.requests) == 1


def test_a_missing_size_counts_as_zero_bytes(settings: Any) -> None:
    tuned = dataclasses.replace(settings, min_new_objects=100, min_new_bytes=0)
    bucket = PagedBucket([{"Contents": [{"Key": "a", "LastModified": SINCE + timedelta(seconds=1)}]}])
    assert retrain.count_new_data(bucket, tuned, SINCE, Silent()) == retrain.NewData(1, 0, complete=True)


def test_an_empty_page_has_no_contents_key(settings: Any) -> None:
    """S3 leaves ``Contents`` out of a page with no keys."""
    tuned = dataclasses.replace(settings, min_new_objects=1, min_new_bytes=0)
    assert retrain.count_new_data(PagedBucket([{"IsTruncated": False}]), tuned, SINCE, Silent()) == retrain.NewData(
        0, 0, complete=True
    )


def test_enough_on_a_page_without_is_truncated_is_complete(settings: Any) -> None:
    tuned = dataclasses.replace(settings, min_new_objects=1, min_new_bytes=0)
    bucket = PagedBucket([{"Contents": [_item("a", 5, 1)]}])
    assert retrain.count_new_data(bucket, tuned, SINCE, Silent()) == retrain.NewData(1, 5, complete=True)


def test_a_failed_listing_is_logged_with_the_operation_and_raised(settings: Any) -> None:
    class Denied:
        def list_objects_v2(self, **_: Any) -> dict[str, Any]:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "n" * 1000}, "ResponseMetadata": {"RetryAttempts": 0}},
                "ListObjectsV2",
            )

    logger = Recording()
    with pytest.raises(ClientError):
        retrain.count_new_data(Denied(), settings, SINCE, logger)
    assert len(logger.errors) == 1
    extra = logger.errors[0][1]
    assert (extra["operation"], extra["error_code"], extra["attempts"], extra["failure"]) == (
        "ListObjectsV2",
        "AccessDenied",
        1,
        "permanent",
    )
    assert len(extra["error_message"]) == 500
