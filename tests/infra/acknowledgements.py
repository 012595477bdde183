"""The reviewed cdk-nag acknowledgement reasons (``acknowledgement_reasons.json``), shared by the gate tests."""

from __future__ import annotations

import json
from pathlib import Path

REVIEWED_REASONS = Path(__file__).with_name("acknowledgement_reasons.json")


def assert_reviewed_reasons(scope: str, reasons: list[str]) -> None:
    """Every acknowledgement reason is one of the reviewed reasons of ``scope``, and each reviewed one is used.

    A length check accepts any 20 characters; this list is the reasons a reviewer has read. Adding or rewording an
    acknowledgement is a change to ``acknowledgement_reasons.json`` that shows in review.
    """
    reviewed = set(json.loads(REVIEWED_REASONS.read_text(encoding="utf-8"))[scope])
    found = set(reasons)
    assert (sorted(found - reviewed), sorted(reviewed - found)) == ([], []), (
        f"(new or reworded, no longer used) reasons of {scope}: review them, then update {REVIEWED_REASONS.name}"
    )
