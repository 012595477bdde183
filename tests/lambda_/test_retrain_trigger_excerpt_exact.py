"""The rejected-event log excerpt of the retrain trigger, exact: sorted keys, ASCII escapes, ``repr`` for what JSON
cannot hold, a marker for what cannot be rendered at all, and the truncation at the limit.

Written against the survivors of ``make mutate-lambda FN=retrain_trigger MUTATE='trigger_events.x_safe_excerpt*'``
(README, "Development"): the tests only checked that an excerpt was present.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import trigger_events


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"b": 1, "a": "é"}, '{"a": "\\u00e9", "b": 1}'),
        (
            {"when": datetime(2026, 12, 2, tzinfo=UTC)},
            '{"when": "datetime.datetime(2026, 12, 2, 0, 0, tzinfo=datetime.timezone.utc)"}',
        ),
        (None, "null"),
        ("text", '"text"'),
    ],
)
def test_the_excerpt_is_sorted_ascii_json_with_repr_for_the_rest(event: Any, expected: str) -> None:
    assert trigger_events.safe_excerpt(event) == expected


def test_an_event_that_cannot_be_rendered_is_named_by_its_type() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    assert trigger_events.safe_excerpt(circular) == "<unserializable dict>"


def test_the_excerpt_is_cut_at_the_limit_and_says_so() -> None:
    assert trigger_events.safe_excerpt("abcdefgh", limit=10) == '"abcdefgh"'
    assert trigger_events.safe_excerpt("abcdefghi", limit=10) == '"abcdefghi...(truncated)'
