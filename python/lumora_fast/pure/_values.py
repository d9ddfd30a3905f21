"""Python values seen as JSON / JS values: classification, object entries, paths, errors.

Accepted everywhere: ``dict`` (``str`` keys), ``list`` and ``tuple`` (arrays), ``str``,
``int``, ``float``, ``bool``, ``None`` and msgspec Structs, including subclasses (a
``StrEnum`` is its string, an ``IntEnum`` its number). A Struct is an object: its tag
first (when tagged), then its fields in definition order under their wire names, with
``msgspec.UNSET`` fields left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import Enum
from typing import Any, Final, TypeAlias

from msgspec import UNSET, Struct

from lumora_fast.constants import MAX_DEPTH
from lumora_fast.errors import ProtocolError

from ._strings import quote

__all__ = [
    "ARRAY",
    "BOOL",
    "MISSING",
    "NULL",
    "NUMBER",
    "OBJECT",
    "STRING",
    "STRUCT",
    "UNSUPPORTED",
    "DocumentBase",
    "Missing",
    "Path",
    "array_items",
    "check_json",
    "copy_json",
    "entries",
    "format_path",
    "get_property",
    "kind_of",
    "non_str_key",
    "object_items",
    "raw_items",
    "too_deep",
    "unsupported",
    "unwrap",
]

Path: TypeAlias = tuple[str | int, ...]
"""A location as keys and indices from the root (``()`` is ``$``)."""


class Missing(Enum):
    """JS ``undefined``: an absent property (never a value in a container)."""

    MISSING = "undefined"


MISSING: Final = Missing.MISSING

UNSUPPORTED: Final = 0
NULL: Final = 1
BOOL: Final = 2
NUMBER: Final = 3
STRING: Final = 4
ARRAY: Final = 5
OBJECT: Final = 6
STRUCT: Final = 7

_EXACT_KINDS: Final[dict[type, int]] = {
    dict: OBJECT,
    list: ARRAY,
    str: STRING,
    int: NUMBER,
    float: NUMBER,
    bool: BOOL,
    type(None): NULL,
    tuple: ARRAY,
}


def kind_of(value: object) -> int:
    """The JSON kind of ``value``, or ``UNSUPPORTED`` (bool is never a number)."""
    kind = _EXACT_KINDS.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, str):
        return STRING
    if isinstance(value, int):  # bool is final, so this is int or IntEnum & co.
        return NUMBER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, dict):
        return OBJECT
    if isinstance(value, list | tuple):
        return ARRAY
    if isinstance(value, Struct):
        return STRUCT
    return UNSUPPORTED


_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def format_path(path: Path) -> str:
    """``$.nodes[3].props.size``; a key that is not an identifier is ``["my key"]``."""
    parts = ["$"]
    for seg in path:
        if isinstance(seg, int):
            parts.append(f"[{seg}]")
        elif _IDENTIFIER.fullmatch(seg):
            parts.append(f".{seg}")
        else:
            parts.append(f"[{quote(seg)}]")
    return "".join(parts)


def unsupported(value: object, path: Path) -> ProtocolError:
    """The error for a value that is not JSON."""
    return ProtocolError(f"unsupported type {type(value).__name__} at {format_path(path)}")


def non_str_key(key: object, path: Path) -> ProtocolError:
    """The error for a dict (at ``path``) with a key that is not a ``str``."""
    return ProtocolError(f"dict key must be str, got {type(key).__name__} at {format_path(path)}")


def too_deep(path: Path) -> ProtocolError:
    """The error for a container (at ``path``) nested deeper than ``MAX_DEPTH``."""
    return ProtocolError(f"nesting depth exceeds {MAX_DEPTH} at {format_path(path)}")


def _struct_items(obj: Struct) -> Iterator[tuple[str, Any]]:
    cls = type(obj)
    config = cls.__struct_config__
    if config.tag_field is not None:
        yield config.tag_field, config.tag
    for name, wire in zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True):
        value = getattr(obj, name)
        if value is not UNSET:
            yield wire, value


def raw_items(obj: Any, kind: int) -> list[tuple[Any, Any]]:
    """An object's entries in order, keys not yet checked (see :func:`object_items`)."""
    if kind == STRUCT:
        return list(_struct_items(obj))
    return list(dict.items(obj))


def object_items(obj: Any, kind: int, path: Path) -> list[tuple[str, Any]]:
    """The own properties of an object (``kind`` ``OBJECT`` or ``STRUCT``) in order.

    A dict's keys are checked here (``path`` is the dict's location). Dicts are read in
    storage order, as the C API (``PyDict_Next``) sees them.
    """
    items = raw_items(obj, kind)
    for key, _ in items:
        if not isinstance(key, str):
            raise non_str_key(key, path)
    return items


def get_property(obj: Any, kind: int, name: str) -> Any:
    """``obj[name]`` in JS for a JSON value: ``MISSING`` unless an object has it.

    Primitives and arrays have no properties the reference reads.
    """
    if kind == OBJECT:
        return dict.get(obj, name, MISSING)
    if kind == STRUCT:
        for key, value in _struct_items(obj):
            if key == name:
                return value
    return MISSING


def array_items(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    """The items of a list or tuple (or subclass) as stored: an overridden ``__iter__``
    or ``__len__`` is not consulted, as the native core reads the items directly."""
    if isinstance(value, list):
        return list(list.__iter__(value))
    return list(tuple.__iter__(value))


def entries(value: Any, kind: int, path: Path) -> Iterator[tuple[str | int, Any]]:
    """The children of a container (``kind`` ``ARRAY``, ``OBJECT`` or ``STRUCT``) in order."""
    if kind == ARRAY:
        return enumerate(array_items(value))
    return iter(object_items(value, kind, path))


def check_json(root: object, path: Path = ()) -> None:
    """Raise ``ProtocolError`` for the first non-JSON value, non-str key or too-deep
    container, depth first, children in order."""
    kind = kind_of(root)
    if kind == UNSUPPORTED:
        raise unsupported(root, path)
    if kind < ARRAY:
        return
    stack: list[tuple[Iterator[tuple[str | int, Any]], Path]] = [(entries(root, kind, path), path)]
    while stack:
        children, where = stack[-1]
        for seg, item in children:
            item_kind = kind_of(item)
            if item_kind >= ARRAY:
                child_path = (*where, seg)
                if len(stack) >= MAX_DEPTH:
                    raise too_deep(child_path)
                stack.append((entries(item, item_kind, child_path), child_path))
                break
            if item_kind == UNSUPPORTED:
                raise unsupported(item, (*where, seg))
        else:
            stack.pop()


class DocumentBase:
    """The storage of the pure ``SchemaDocument`` (``document.py``): a private JSON value.

    The value is made of ``dict`` (``str`` keys), ``list``, ``str``, ``int``, ``float``,
    ``bool`` and ``None`` only, and is never handed out: :func:`unwrap` and
    ``SchemaDocument.to_python`` give copies. The class lives here, below every function
    that accepts a document, so they can recognise one without importing ``document.py``
    (which imports them).
    """

    __slots__ = ("_value",)
    _value: Any


def copy_json(value: Any) -> Any:
    """A deep copy of a plain JSON value (dicts and lists new, in the same order).

    Iterative, so values nested to ``MAX_DEPTH`` cost no Python stack.
    """
    if not isinstance(value, dict | list):
        return value
    root: Any = {} if isinstance(value, dict) else []
    pending: list[tuple[Any, Any]] = [(value, root)]
    while pending:
        source, target = pending.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            copied = item
            if isinstance(item, dict | list):
                copied = {} if isinstance(item, dict) else []
                pending.append((item, copied))
            if isinstance(target, dict):
                target[key] = copied
            else:
                target.append(copied)
    return root


def unwrap(obj: object) -> object:
    """A pure ``SchemaDocument``'s content as a new Python value; anything else as is.

    Every function that takes a schema calls this first: it then sees the document as
    the dict ``to_python()`` returns, and what it returns (nodes, op values) is the
    caller's to keep, never part of the document.
    """
    if isinstance(obj, DocumentBase):
        return copy_json(obj._value)
    return obj
