"""The bridge's report read, exact: an error that is not S3's "no such key" reaches the caller unchanged, whether
it carries no ``response`` (a connection error) or a response without an ``Error`` member.

Written against the survivors of ``make mutate-lambda FN=monitor_bridge MUTATE='bridge.x_read_json*'`` (README,
"Development"): the tests only raised botocore ClientErrors, which always carry both.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar

import pytest


class _Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_object(self, **_: Any) -> Any:
        raise self.error


class _ResponseWithoutError(Exception):
    response: ClassVar[dict[str, Any]] = {"ResponseMetadata": {"HTTPStatusCode": 500}}


@pytest.mark.parametrize("error", [ConnectionError("reset by peer"), _ResponseWithoutError("throttled")])
def test_an_error_that_is_not_a_missing_key_is_raised_unchanged(bridge: ModuleType, error: Exception) -> None:
    report = bridge.ReportObject(
        bucket="b",
        key="p/data-quality/x/constraint_violations.json",
        kind="data-quality",
        file_name="constraint_violations.json",
    )
    with pytest.raises(type(error)) as caught:
        bridge.read_json(_Failing(error), report)
    assert caught.value is error
