"""Load the configuration file into a frozen ``PlatformConfig``, or fail with one readable message per mistake.

Whatever the file holds, the result is a ``PlatformConfig`` or a ``ConfigError`` whose every line names the file:
no traceback, no hang. The YAML reader is PyYAML's safe loader with four limits on top: a size limit (bounded
parse time), a nesting limit (PyYAML composes recursively), a limit on the document's size with aliases expanded
(an alias bomb is small on disk and exponential once validated), and no duplicate keys (YAML 1.2 requires unique
keys; PyYAML silently keeps the last one, so a second ``environments:`` block would drop the first unseen).
Explicit tags are refused: the configuration is plain strings, numbers, booleans, lists and mappings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mlops_config.base import shown
from mlops_config.platform import PlatformConfig

MAX_FILE_BYTES = 1_048_576
"""Largest configuration (or resolver output) file read; the shipped configuration is about 3 KB."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists; the schema itself nests eight levels."""
MAX_NODES = 200_000
"""Most YAML nodes with aliases expanded (what validation would walk)."""
MAX_ERRORS = 50
"""Most mistakes listed; the rest are counted."""
MAX_LINE = 1000
"""Longest line of an error message (a value is quoted in at most 120 characters, allowed-lists are longer)."""

# The tags plain YAML resolves by itself (strings, numbers, booleans, null, lists, mappings, ``<<`` merges).
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map", "merge")
)


class ConfigError(Exception):
    """A configuration mistake, already phrased for the person who made it (file, field path, value, allowed)."""


class _DocumentError(Exception):
    """A structural problem found while reading YAML, with the line it is on."""

    def __init__(self, mark: yaml.Mark | None, problem: str) -> None:
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        super().__init__(f"{where}{problem}")


class _BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing deep nesting, explicit tags and duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _DocumentError(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            node: yaml.Node = super().compose_node(parent, index)  # type: ignore[misc, assignment]
        finally:
            self._depth -= 1
        if node.tag not in _PLAIN_TAGS:
            raise _DocumentError(
                node.start_mark,
                f"tag {shown(node.tag)} is not allowed; allowed: plain strings, numbers, booleans, lists and "
                "mappings (quote dates and other values YAML would convert)",
            )
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                first = seen.get(key)
            except TypeError:
                raise _DocumentError(key_node.start_mark, "a key is a list or mapping; allowed: plain keys") from None
            if first is not None:
                raise _DocumentError(
                    key_node.start_mark,
                    f"duplicate key {shown(key)} (first at line {first.start_mark.line + 1}); YAML keys are "
                    "unique and a second block would silently replace the first; allowed: each key once",
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in ``root`` with every alias expanded, computed once per shared node, stopping past ``MAX_NODES``."""
    sizes: dict[int, int] = {}
    # Iterative post-order walk (no recursion: nesting is already bounded, but this stays cheap either way).
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if children_done or not children:
            sizes[id(node)] = min(MAX_NODES + 1, 1 + sum(sizes[id(child)] for child in children))
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def read_bounded(source: Path, what: str) -> bytes:
    """The bytes of ``source``, or ``ConfigError`` if it cannot be read or is larger than ``MAX_FILE_BYTES``."""
    try:
        with source.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{source}: cannot read the {what}: {error.strerror or type(error).__name__}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{source}: the {what} is larger than {MAX_FILE_BYTES} bytes; allowed: a smaller file")
    return data


def decode_text(source: Path, data: bytes) -> str:
    """``data`` as text: UTF-8 with or without a byte-order mark, or UTF-16/32 with one (as YAML allows)."""
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
        (b"\xef\xbb\xbf", "utf-8"),
    ):
        if data.startswith(bom):
            data, encoding = data[len(bom) :], codec
            break
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}: line {line}: byte {error.object[error.start : error.start + 1]!r} at offset {error.start} "
            f"is not {encoding.upper()}; allowed: a UTF-8 text file"
        ) from None


def read_yaml(source: Path) -> Any:
    """Parse the YAML file at ``source`` within the limits above; ``ConfigError`` for anything else."""
    text = decode_text(source, read_bounded(source, "configuration"))
    try:
        loader = _BoundedSafeLoader(text)
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        raise ConfigError(
            f"{source}: not valid YAML: line {line}: character #x{error.character:04x} is not printable; "
            "allowed: printable text"
        ) from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if _expanded_size(root) > MAX_NODES:
            raise _DocumentError(
                None, f"more than {MAX_NODES} values once aliases are expanded; allowed: a smaller document"
            )
        return loader.construct_document(root)
    except _DocumentError as error:
        raise ConfigError(f"{source}: not valid configuration YAML: {error}") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = " ".join(str(error.problem or error.context or "syntax error").split())
        raise ConfigError(f"{source}: not valid YAML: {where}{problem[:MAX_LINE]}") from None
    except (yaml.YAMLError, RecursionError, ValueError) as error:
        raise ConfigError(f"{source}: not valid YAML: {type(error).__name__}: {shown(str(error))}") from None
    finally:
        loader.dispose()


def read_json(source: Path, what: str) -> Any:
    """Parse the JSON file at ``source`` (UTF-8, UTF-16 or UTF-32, with or without a byte-order mark)."""
    data = read_bounded(source, what)
    try:
        # json.loads detects UTF-8/16/32 and a UTF-8 byte-order mark from the bytes themselves (RFC 8259, 8.1).
        return json.loads(data)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{source}: not readable JSON: line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{source}: not readable JSON: byte at offset {error.start} is not {error.encoding.upper()}; "
            "allowed: the UTF-8 the resolver writes"
        ) from None
    except RecursionError:
        raise ConfigError(f"{source}: not readable JSON: nested too deeply") from None


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _describe(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] in ("missing",):
        return "is required but missing"
    if error["type"] == "extra_forbidden":
        return "is not a known key"
    value = error.get("input")
    if error["type"].startswith(("literal_", "greater_", "less_", "too_", "int_", "float_", "string_", "bool_")):
        return f"{shown(value)}: {message}"
    return message


def _is_echo(error: Any, errors: list[Any]) -> bool:
    """A length error pydantic adds to a list whose items already failed ("... after validation, not 0")."""
    loc = tuple(error["loc"])
    return error["type"] in ("too_short", "too_long") and any(
        len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc for other in errors
    )


def _bounded(line: str) -> str:
    line = line.replace("\n", "\\n")
    return line if len(line) <= MAX_LINE else f"{line[: MAX_LINE - 3]}..."


def format_validation_error(path: Path, error: ValidationError) -> str:
    """One line per mistake: ``<file>: <field path>: <what is wrong and what is allowed>``."""
    errors = error.errors(include_url=False)
    # Cross-field checks on the whole file already start their message with the field path they concern.
    lines = [
        _bounded(f"{path}: {_field_path(tuple(e['loc']))}: {_describe(e)}" if e["loc"] else f"{path}: {_describe(e)}")
        for e in errors
        if not _is_echo(e, errors)
    ]
    if len(lines) > MAX_ERRORS:
        lines = [*lines[:MAX_ERRORS], f"{path}: ... and {len(lines) - MAX_ERRORS} more mistakes"]
    return "invalid configuration\n  " + "\n  ".join(lines)


def parse_config(raw: Any, *, source: Path) -> PlatformConfig:
    """Validate already-parsed YAML; ``source`` names the file in errors."""
    if raw is None:
        raise ConfigError(f"{source}: (top level): the file holds no settings; allowed: a mapping of settings")
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping of settings, got {type(raw).__name__}")
    try:
        return PlatformConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(format_validation_error(source, error)) from None


def load_config(path: Path | str) -> PlatformConfig:
    """Read and validate the YAML configuration at ``path``."""
    source = Path(path)
    return parse_config(read_yaml(source), source=source)
