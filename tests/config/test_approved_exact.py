"""Exact helpers of the approved-models check, pinned where `make mutate` found them untested."""

from __future__ import annotations

import pytest

from mlops_config import approved


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-east-1", "aws"),
        ("eu-west-1", "aws"),
    ],
)
def test_the_partition_of_a_region(region: str, partition: str) -> None:
    """The partition an ARN of ``region`` must carry (China and GovCloud regions are their own partitions)."""
    assert approved._partition(region) == partition


def test_an_entry_name_up_to_64_printable_characters_is_shown_as_written() -> None:
    assert approved._entry("m" * 64) == "m" * 64
    assert approved._entry("m" * 65) == repr("m" * 65)
    assert approved._entry("tab\tname") == repr("tab\tname")
