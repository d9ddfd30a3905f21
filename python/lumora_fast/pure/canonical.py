"""The JS-compatible JSON writer: ``JSON.stringify`` output and the checksum's canonical form.

Both modes write JS numbers, JSON.stringify escaping and JS own-property order (array
index keys first, in numeric order). The canonical mode (what the reference hashes)
first sorts every object's keys by UTF-16 code units and drops ``__proto__`` keys,
which the reference's sorting step assigns through the ``__proto__`` setter.
"""

from __future__ import annotations

from typing import Any

from lumora_fast.constants import MAX_DEPTH
from lumora_fast.errors import ProtocolError

from ._number import json_number
from ._strings import quote, utf16_sort_key
from ._values import (
    ARRAY,
    BOOL,
    MISSING,
    NULL,
    NUMBER,
    STRING,
    UNSUPPORTED,
    Path,
    array_items,
    kind_of,
    non_str_key,
    object_items,
    raw_items,
    too_deep,
    unsupported,
    unwrap,
)

__all__ = ["canonical_json", "dumps"]

_MAX_ARRAY_INDEX = 2**32 - 2


def _array_index(key: str) -> int | None:
    """The index if ``key`` is a canonical array index (``"0"``..``"4294967294"``)."""
    if key == "0":
        return 0
    if 0 < len(key) <= 10 and "1" <= key[0] <= "9" and key.isascii() and key.isdigit():
        index = int(key)
        if index <= _MAX_ARRAY_INDEX:
            return index
    return None


def _js_order(items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """JS own-property order: array-index keys ascending, then the rest as given."""
    indexed: list[tuple[int, str, Any]] = []
    named: list[tuple[str, Any]] = []
    for key, value in items:
        index = _array_index(key)
        if index is None:
            named.append((key, value))
        else:
            indexed.append((index, key, value))
    if not indexed:
        return named
    indexed.sort(key=lambda entry: entry[0])
    return [(key, value) for _, key, value in indexed] + named


def _canonical_order(items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    kept = [(key, value) for key, value in items if key != "__proto__"]
    kept.sort(key=lambda entry: utf16_sort_key(entry[0]))
    return _js_order(kept)


class _Frame:
    """An open container: its entries, the position reached, and where its output began."""

    __slots__ = (
        "close",
        "entries",
        "indent",
        "is_object",
        "last_index",
        "lazy",
        "named",
        "path",
        "pos",
        "source",
        "start",
    )

    def __init__(self, source: Any, path: Path, start: int) -> None:
        self.source = source
        self.path = path
        self.start = start
        self.entries: list[Any] = []
        self.pos = 0
        self.is_object = False
        self.lazy = False
        self.named = False
        self.last_index = -1
        self.indent = ""
        self.close = ""


def _write(root: object, *, canonical: bool, pretty: bool) -> str:
    """Serialize iteratively (no recursion, so any depth up to ``MAX_DEPTH`` works).

    In ``JSON.stringify`` mode an object is written as its entries come (each key checked
    when reached), which is JS order unless an array-index key follows a key it must
    precede; the object is then started again from all its entries in JS order. Errors
    thus surface in the order the native writer meets them.
    """
    out: list[str] = []
    stack: list[_Frame] = []
    colon = ": " if pretty else ":"

    def write_value(value: Any, path: Path) -> None:
        kind = kind_of(value)
        if kind == STRING:
            out.append(quote(value))
        elif kind == NUMBER:
            out.append(json_number(value))
        elif kind == BOOL:
            out.append("true" if value else "false")
        elif kind == NULL:
            out.append("null")
        elif kind == UNSUPPORTED:
            raise unsupported(value, path)
        else:
            if len(stack) >= MAX_DEPTH:
                raise too_deep(path)
            frame = _Frame(value, path, len(out))
            if kind == ARRAY:
                frame.entries = array_items(value)
            elif canonical:
                frame.is_object = True
                frame.entries = _canonical_order(object_items(value, kind, path))
            else:
                frame.is_object = True
                frame.lazy = True
                frame.entries = raw_items(value, kind)
            if not frame.entries:
                out.append("{}" if frame.is_object else "[]")
                return
            out.append("{" if frame.is_object else "[")
            level = len(stack) + 1
            frame.indent = "\n" + "  " * level if pretty else ""
            frame.close = ("\n" + "  " * (level - 1) if pretty else "") + (
                "}" if frame.is_object else "]"
            )
            stack.append(frame)

    write_value(root, ())
    while stack:
        frame = stack[-1]
        pos = frame.pos
        if pos == len(frame.entries):
            out.append(frame.close)
            stack.pop()
            continue
        if not frame.is_object:
            frame.pos = pos + 1
            out.append(frame.indent if pos == 0 else "," + frame.indent)
            write_value(frame.entries[pos], (*frame.path, pos))
            continue
        key, value = frame.entries[pos]
        if frame.lazy:
            if not isinstance(key, str):
                raise non_str_key(key, frame.path)
            index = _array_index(key)
            if index is None:
                frame.named = True
            elif frame.named or index < frame.last_index:
                del out[frame.start + 1 :]  # keep the "{"
                source = frame.source
                frame.entries = _js_order(object_items(source, kind_of(source), frame.path))
                frame.lazy = False
                frame.pos = 0
                continue
            else:
                frame.last_index = index
        frame.pos = pos + 1
        out.append(frame.indent if pos == 0 else "," + frame.indent)
        out.append(quote(key))
        out.append(colon)
        write_value(value, (*frame.path, key))
    return "".join(out)


def dumps(obj: object, /, *, pretty: bool = False) -> bytes:
    """``JSON.stringify(obj)`` (``pretty``: ``JSON.stringify(obj, null, 2)``) as UTF-8.

    Args:
        obj: A JSON value: dict, list, tuple, str, int, float, bool, None or a Struct;
            or a ``SchemaDocument`` (written as its ``to_python()``).
        pretty: Two-space indentation.

    Returns:
        The UTF-8 bytes of the JSON text.

    Raises:
        ProtocolError: A value that is not JSON, a non-str dict key, or nesting deeper
            than ``MAX_DEPTH`` (the message names the path).
    """
    return _write(unwrap(obj), canonical=False, pretty=pretty).encode("utf-8")


def _checksum_input(schema: object) -> dict[str, Any]:
    """The schema as the reference hashes it: ``metadata.generatedAt`` forced to 0.

    Returns a shallow copy (``schema`` is not modified).

    Raises:
        ProtocolError: Where the reference throws: ``schema`` is not an object, or its
            ``metadata`` is missing or neither an object nor an array.
    """
    if not isinstance(schema, dict):
        raise ProtocolError(f"schema must be a JSON object, got {type(schema).__name__}")
    copy = dict(dict.items(schema))
    metadata = copy.get("metadata", MISSING)
    if metadata is MISSING:
        raise ProtocolError("schema has no 'metadata' object")
    if isinstance(metadata, dict):
        metadata = dict(dict.items(metadata))
        metadata["generatedAt"] = 0
        copy["metadata"] = metadata
    elif not isinstance(metadata, list | tuple):
        # An array takes the assignment silently and serializes unchanged.
        raise ProtocolError(f"schema 'metadata' must be an object, got {type(metadata).__name__}")
    return copy


def canonical_json(schema: object, /) -> bytes:
    """The bytes the reference's ``calculateChecksum`` hashes.

    Args:
        schema: A schema dict with a ``metadata`` object (or array), or a
            ``SchemaDocument`` of one.

    Returns:
        Compact JSON with every object's keys in UTF-16 order (array-index keys first),
        ``__proto__`` keys dropped and ``metadata.generatedAt`` set to 0.

    Raises:
        ProtocolError: ``schema`` is not an object; its ``metadata`` is missing or
            neither an object nor an array; or a value is not JSON or nests too deeply.
    """
    return _write(_checksum_input(unwrap(schema)), canonical=True, pretty=False).encode("utf-8")
