"""Batch window, exact: the rejections of an event's object key and size, each with its code and detail.

Written against the survivors of the rest of ``parse_object_key`` in ``make mutate-lambda FN=batch_window``
(README, "Development"; ``tests/lambda_/test_batch_window_exact.py`` pins the envelope's rejections): the moto
tests checked that such events were rejected, not the code and detail an operator queries the log by, nor a
boolean or negative size, nor the bound of the key excerpt.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "lambda" / "batch_window"
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

import window  # noqa: E402

from tests.lambda_.test_batch_window_exact import ACCOUNT, BUCKET, INPUT_PREFIX, REGION, SETTINGS  # noqa: E402

_ABSENT = object()


def body(key: object = f"{INPUT_PREFIX}a.csv", size: object = 10) -> str:
    """An Object Created event for ``key`` and ``size`` (``_ABSENT`` leaves the field out)."""
    obj: dict[str, Any] = {}
    if key is not _ABSENT:
        obj["key"] = key
    if size is not _ABSENT:
        obj["size"] = size
    return json.dumps(
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "account": ACCOUNT,
            "region": REGION,
            "detail": {"bucket": {"name": BUCKET}, "object": obj},
        }
    )


KEY_MESSAGE = "detail.object.key must be a non-empty string"
SIZE_MESSAGE = "detail.object.size must be a non-negative integer"
LONG_OUTSIDE = "other/" + "k" * 300


@pytest.mark.parametrize(
    ("text", "code", "detail"),
    [
        (body(key=_ABSENT), "bad-field", KEY_MESSAGE),
        (body(key=""), "bad-field", KEY_MESSAGE),
        (body(key=5), "bad-field", KEY_MESSAGE),
        (body(key=None), "bad-field", KEY_MESSAGE),
        (body(key="other/a.csv"), "outside-prefix", "key 'other/a.csv' is not under the input prefix"),
        (body(key=INPUT_PREFIX), "outside-prefix", f"key {INPUT_PREFIX!r} is not under the input prefix"),
        (body(key="x\n\x07y"), "outside-prefix", "key 'x\\\\n\\\\u0007y' is not under the input prefix"),
        (body(key=LONG_OUTSIDE), "outside-prefix", f"key {LONG_OUTSIDE[:200]!r} is not under the input prefix"),
        (body(key=f"{INPUT_PREFIX}2026/12/"), "folder-marker", "key is a folder marker"),
        (body(size=_ABSENT), "bad-field", SIZE_MESSAGE),
        (body(size="10"), "bad-field", SIZE_MESSAGE),
        (body(size=1.5), "bad-field", SIZE_MESSAGE),
        (body(size=True), "bad-field", SIZE_MESSAGE),
        (body(size=False), "bad-field", SIZE_MESSAGE),
        (body(size=-1), "bad-field", SIZE_MESSAGE),
        (body(size=0), "empty-object", "an empty object has no rows to score"),
    ],
    ids=[
        "no-key",
        "empty-key",
        "number-key",
        "null-key",
        "outside",
        "the-prefix-itself",
        "escaped",
        "long-key-cut-at-200",
        "folder",
        "no-size",
        "text-size",
        "fraction-size",
        "true-size",
        "false-size",
        "negative-size",
        "zero-size",
    ],
)
def test_each_key_and_size_rejection_carries_its_exact_code_and_detail(text: str, code: str, detail: str) -> None:
    with pytest.raises(window.EventRejectedError) as caught:
        window.parse_object_key(text, SETTINGS)
    assert (caught.value.code, caught.value.detail, str(caught.value)) == (code, detail, f"{code}: {detail}")


@pytest.mark.parametrize("size", [1, 5 * 1024**4])
def test_a_file_of_any_positive_size_under_the_prefix_is_accepted(size: int) -> None:
    assert window.parse_object_key(body(key=f"{INPUT_PREFIX}2026/a.csv", size=size), SETTINGS) == (
        f"{INPUT_PREFIX}2026/a.csv"
    )
