"""The configuration loader's limits and messages, pinned exactly (each test kills mutants the hostile tests missed)."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, Field, ValidationError, create_model

from mlops_config import ConfigError, parse_config
from mlops_config.loader import (
    MAX_ERRORS,
    MAX_FILE_BYTES,
    MAX_LINE,
    MAX_NODES,
    _bounded,
    _expanded_size,
    decode_text,
    format_validation_error,
    read_bounded,
    read_json,
    read_yaml,
)

TEXT = "project: mlops\nnote: 'é, ü, 漢'\n"


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (b"", "utf-8"),
    ],
)
def test_each_byte_order_mark_decodes_to_the_same_text(bom: bytes, codec: str) -> None:
    # The UTF-32-LE mark starts with the UTF-16-LE one: the longer mark must be tried first.
    assert decode_text(Path("c.yaml"), bom + TEXT.encode(codec)) == TEXT


def test_a_byte_that_is_not_the_marked_encoding_is_named() -> None:
    with pytest.raises(ConfigError) as error:
        decode_text(Path("c.yaml"), codecs.BOM_UTF16_BE + "a\nb".encode("utf-16-be") + b"\xdc\x00")

    assert str(error.value) == (
        "c.yaml: line 2: byte b'\\xdc' at offset 6 is not UTF-16-BE; allowed: a UTF-8 text file"
    )


def test_nesting_is_counted_back_up_after_each_sibling(tmp_path: Path) -> None:
    # {x: {a: 1, b: <n lists>}}: the scalar inside b sits at depth n + 3; more than 32 is refused. The sibling "a"
    # comes first, so a depth that was not decremented back exactly would let one more level through.
    source = tmp_path / "c.yaml"
    source.write_text("x: {a: 1, b: " + "[" * 29 + "1" + "]" * 29 + "}")
    assert read_yaml(source)["x"]["a"] == 1

    source.write_text("x: {a: 1, b: " + "[" * 30 + "1" + "]" * 30 + "}")
    with pytest.raises(ConfigError, match=r"line 1, column 44: nested deeper than 32 levels$"):
        read_yaml(source)


def test_a_list_as_a_key_is_refused_with_its_line(tmp_path: Path) -> None:
    source = tmp_path / "c.yaml"
    source.write_text("? [a, b]\n: 1\n")

    with pytest.raises(ConfigError) as error:
        read_yaml(source)

    assert str(error.value) == (
        f"{source}: not valid configuration YAML: line 1, column 3: a key is a list or mapping; allowed: plain keys"
    )


def test_merge_keys_are_not_duplicates_but_a_key_after_a_merge_still_is(tmp_path: Path) -> None:
    source = tmp_path / "c.yaml"
    source.write_text("b: &b {p: 1}\no: &o {q: 2}\nm:\n  <<: *b\n  <<: *o\n  r: 3\n")
    assert read_yaml(source)["m"] == {"p": 1, "q": 2, "r": 3}

    source.write_text("b: &b {p: 1}\nm:\n  <<: *b\n  r: 3\n  r: 4\n")
    with pytest.raises(ConfigError, match=r"line 5, column 3: duplicate key 'r' \(first at line 4\)"):
        read_yaml(source)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1", 1),
        ("[]", 1),
        ("a: [1, 2]", 5),  # mapping + key + (list + 2 items)
        ("x: &a [1, 2]\ny: *a", 9),  # the aliased list counts at each use
    ],
)
def test_the_expanded_size_counts_every_node_with_aliases_expanded(text: str, size: int) -> None:
    root = yaml.compose(text)
    assert root is not None
    assert _expanded_size(root) == size


def test_the_expanded_size_stops_just_past_the_limit() -> None:
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6)
    )

    root = yaml.compose(bomb)
    assert root is not None
    assert _expanded_size(root) == MAX_NODES + 1


def test_a_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    source = tmp_path / "c.yaml"
    source.write_bytes(b"#" * MAX_FILE_BYTES)
    assert len(read_bounded(source, "configuration")) == MAX_FILE_BYTES

    source.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match=f"the configuration is larger than {MAX_FILE_BYTES} bytes"):
        read_bounded(source, "configuration")


def test_an_unreadable_path_names_the_operating_system_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        read_bounded(tmp_path, "configuration")

    assert str(error.value) == f"{tmp_path}: cannot read the configuration: Is a directory"


def test_json_that_is_not_utf8_names_the_offset_and_what_is_allowed(tmp_path: Path) -> None:
    source = tmp_path / "approved.json"
    source.write_bytes(b'{"a": "\xff"}')

    with pytest.raises(ConfigError) as error:
        read_json(source, "approved models")

    assert str(error.value) == (
        f"{source}: not readable JSON: byte at offset 7 is not UTF-8; allowed: the UTF-8 the resolver writes"
    )


def test_a_top_level_list_names_its_type() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config([1], source=Path("c.yaml"))

    assert str(error.value) == "c.yaml: (top level): expected a mapping of settings, got list"


def test_a_line_is_one_line_and_at_most_max_line_characters() -> None:
    assert _bounded("a\nb") == "a\\nb"
    assert _bounded("x" * MAX_LINE) == "x" * MAX_LINE
    assert _bounded("x" * (MAX_LINE + 1)) == "x" * (MAX_LINE - 3) + "..."


class _Kinds(BaseModel):
    count: int = Field(ge=1, le=100)
    ratio: float = 0.5
    name: str = "n"
    flag: bool = False
    items: list[int] = Field(default_factory=list, max_length=2)


def _errors(data: dict[str, Any], model: type[BaseModel] = _Kinds) -> list[str]:
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    return format_validation_error(Path("c.yaml"), error.value).splitlines()


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({}, "c.yaml: count: is required but missing"),
        ({"count": 0}, "c.yaml: count: 0: Input should be greater than or equal to 1"),
        ({"count": 101}, "c.yaml: count: 101: Input should be less than or equal to 100"),
        ({"count": "x"}, "c.yaml: count: 'x': Input should be a valid integer, unable to parse string as an integer"),
        (
            {"count": 1, "ratio": "x"},
            "c.yaml: ratio: 'x': Input should be a valid number, unable to parse string as a number",
        ),
        ({"count": 1, "name": 5}, "c.yaml: name: 5: Input should be a valid string"),
        (
            {"count": 1, "flag": "maybe"},
            "c.yaml: flag: 'maybe': Input should be a valid boolean, unable to interpret input",
        ),
        (
            {"count": 1, "items": [1, 2, 3]},
            "c.yaml: items: [1, 2, 3]: List should have at most 2 items after validation, not 3",
        ),
    ],
)
def test_each_kind_of_mistake_quotes_the_value_where_it_helps(data: dict[str, Any], line: str) -> None:
    assert _errors(data) == ["invalid configuration", f"  {line}"]


def test_up_to_max_errors_mistakes_are_listed_and_the_rest_counted() -> None:
    many = create_model("Many", **{f"f{i:02}": (int, ...) for i in range(MAX_ERRORS + 1)})  # type: ignore[call-overload]
    fewer = create_model("Fewer", **{f"f{i:02}": (int, ...) for i in range(MAX_ERRORS)})  # type: ignore[call-overload]

    assert len(_errors({}, fewer)) == 1 + MAX_ERRORS
    lines = _errors({}, many)
    assert len(lines) == 1 + MAX_ERRORS + 1
    assert lines[-1] == "  c.yaml: ... and 1 more mistakes"


def test_a_number_python_will_not_convert_is_a_one_line_error(tmp_path: Path) -> None:
    # Python refuses int() of more than 4300 digits (a guard against quadratic conversion): one bounded line.
    source = tmp_path / "c.yaml"
    source.write_text("x: " + "1" * 5000)

    with pytest.raises(ConfigError) as error:
        read_yaml(source)

    assert str(error.value) == (
        f"{source}: not valid YAML: ValueError: 'Exceeds the limit (4300 digits) for integer string conver..."
        "ts; use sys.set_int_max_str_digits() to increase the limit'"
    )


def test_a_document_of_exactly_max_nodes_is_read_and_one_more_is_not(tmp_path: Path) -> None:
    # A list of 19,999 aliases of a ten-node list plus nine scalars: 1 + 19,999 * 10 + 9 = MAX_NODES nodes expanded.
    ten = "[" + ", ".join(["0"] * 9) + "]"
    aliases = ", ".join(["*a"] * 19_999)
    source = tmp_path / "c.yaml"
    source.write_text(f"[&a {ten}, {aliases[4:]}, {', '.join(['1'] * 9)}]")
    assert len(read_yaml(source)) == 19_999 + 9

    source.write_text(f"[&a {ten}, {aliases[4:]}, {', '.join(['1'] * 10)}]")
    with pytest.raises(ConfigError, match=f"more than {MAX_NODES} values once aliases are expanded"):
        read_yaml(source)
