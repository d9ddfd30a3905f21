"""Schema deltas with lumora_fast's fixed semantics (docs/architecture.md, "Compatibility").

Top-level nodes are keyed by ``id`` with JS SameValueZero (``"1"`` is not ``1``, ``true``
is not ``1``, ``1 == 1.0``, ``NaN`` equals itself; an object id is its identity) and
compared whole by JSON equality (of the JSON text the values are written as), so no
node shape is an error: where the reference's comparison throws (a node without
``type``, ``children`` or ``props``, or with ``null`` there), that is one of its
defects, fixed here.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

from lumora_fast.errors import ProtocolError

from ._number import to_double
from ._strings import js_string
from ._values import (
    ARRAY,
    BOOL,
    MISSING,
    NULL,
    NUMBER,
    OBJECT,
    STRING,
    STRUCT,
    UNSUPPORTED,
    Path,
    array_items,
    check_json,
    kind_of,
    object_items,
    unsupported,
    unwrap,
)
from .canonical import dumps

__all__ = ["apply_schema_delta", "calculate_schema_delta", "json_equal"]

_META_KEYS = ("version", "theme", "navigation")
_UNDEFINED_KEY: Hashable = ("undefined",)


def _schema_nodes(schema: object) -> tuple[dict[str, Any], Sequence[Any]]:
    """The schema (a dict) and its ``nodes`` (an array of objects), or ProtocolError."""
    if not isinstance(schema, dict):
        raise ProtocolError(f"schema must be a JSON object, got {type(schema).__name__}")
    nodes = dict.get(schema, "nodes", MISSING)
    if not isinstance(nodes, list | tuple):
        raise ProtocolError("schema 'nodes' must be an array")
    _check_nodes(nodes, "nodes")
    return schema, nodes


def _check_nodes(nodes: Sequence[Any], name: str) -> None:
    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            raise ProtocolError(
                f"node at $.{name}[{i}] must be an object, got {type(node).__name__}"
            )


def _id_key(value: Any, path: Path) -> Hashable:
    """A hashable key that is equal for two ids exactly when JS SameValueZero is true."""
    if value is MISSING:
        return _UNDEFINED_KEY
    kind = kind_of(value)
    if kind == STRING:
        return (STRING, js_string(value))
    if kind == NUMBER:
        x = to_double(value)
        return (NUMBER, "NaN") if math.isnan(x) else (NUMBER, x)  # -0.0 and 0.0 hash alike
    if kind == BOOL:
        return (BOOL, bool(value))
    if kind == NULL:
        return (NULL,)
    if kind == UNSUPPORTED:
        raise unsupported(value, path)
    return (ARRAY, id(value))  # objects and arrays are distinct keys unless identical


def _id_text(value: Any) -> str:
    return "undefined" if value is MISSING else dumps(value).decode("utf-8")


def _json_kind(value: Any) -> int:
    kind = kind_of(value)
    if kind == STRUCT:
        return OBJECT
    if kind == NUMBER and not math.isfinite(to_double(value)):
        return NULL  # JSON.stringify writes NaN and +-Infinity as null
    return kind


def json_equal(a: object, b: object) -> bool:
    """Whether two values (already known to be JSON) are written as equal JSON.

    Objects are equal with the same keys and equal values (order is irrelevant), arrays
    elementwise; numbers compare as doubles, and a non-finite number is ``null`` (as
    ``JSON.stringify`` writes it, and as the checksum sees it); booleans never equal
    numbers; strings compare as UTF-16.
    """
    stack: list[tuple[Any, Any]] = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        kx = _json_kind(x)
        if kx != _json_kind(y):
            return False
        if kx == NUMBER:
            if to_double(x) != to_double(y):
                return False
        elif kx == STRING:
            if x != y and js_string(x) != js_string(y):
                return False
        elif kx == BOOL:
            if x != y:
                return False
        elif kx == ARRAY:
            xs, ys = array_items(x), array_items(y)
            if len(xs) != len(ys):
                return False
            stack.extend(zip(xs, ys, strict=True))
        elif kx == OBJECT:
            xs, ys = object_items(x, kind_of(x), ()), object_items(y, kind_of(y), ())
            if len(xs) != len(ys):
                return False
            for key, item in xs:
                other = _member(ys, key)
                if other is MISSING:
                    return False
                stack.append((item, other))
    return True


def _member(items: list[tuple[str, Any]], key: str) -> Any:
    """The value under ``key`` by JS string equality: the same text first, then (rarely:
    a surrogate pair held as two code points) the same UTF-16 code units."""
    for other_key, value in items:
        if other_key == key:
            return value
    wanted = js_string(key)
    for other_key, value in items:
        if js_string(other_key) == wanted:
            return value
    return MISSING


def _index(nodes: Sequence[dict[str, Any]], name: str) -> dict[Hashable, list[Any]]:
    """``new Map(nodes.map(n => [n.id, n]))``: key -> [first id value, last node]."""
    index: dict[Hashable, list[Any]] = {}
    for i, node in enumerate(nodes):
        id_value = dict.get(node, "id", MISSING)
        key = _id_key(id_value, (name, i, "id"))
        entry = index.get(key)
        if entry is None:
            index[key] = [id_value, node]
        else:
            entry[1] = node
    return index


def calculate_schema_delta(
    old: object, new: object, /
) -> tuple[list[Any], list[Any], list[Any], dict[str, Any] | None]:
    """The changes that turn ``old`` into ``new``.

    Args:
        old: The previous schema (a dict with a ``nodes`` array of objects), or a
            ``SchemaDocument`` (diffed as its ``to_python()``).
        new: The next schema, likewise.

    Returns:
        ``(added, modified, removed, metadata_changes)``: the nodes of ``new`` whose id
        is new, in ``new``'s order; those whose node changed, in ``new``'s order; the
        ids gone from ``old``, in ``old``'s order (a missing id as ``None``); and the
        new ``version`` / ``theme`` / ``navigation`` for each that changed (``None``
        when removed), or ``None`` when none did.

    Raises:
        ProtocolError: A schema is not an object, its ``nodes`` is not an array, a node
            is not an object, or a value is not JSON or nests too deeply.
    """
    old_schema, old_nodes = _schema_nodes(unwrap(old))
    new_schema, new_nodes = _schema_nodes(unwrap(new))
    check_json(old_schema)
    check_json(new_schema)
    old_index = _index(old_nodes, "nodes")
    new_index = _index(new_nodes, "nodes")
    added: list[Any] = []
    modified: list[Any] = []
    for key, (_, node) in new_index.items():
        entry = old_index.get(key)
        if entry is None:
            added.append(node)
            continue
        if not json_equal(entry[1], node):
            modified.append(node)
    removed = [
        None if id_value is MISSING else id_value
        for key, (id_value, _) in old_index.items()
        if key not in new_index
    ]
    changes: dict[str, Any] = {}
    for name in _META_KEYS:
        before = dict.get(old_schema, name, MISSING)
        after = dict.get(new_schema, name, MISSING)
        if before is MISSING or after is MISSING:
            if before is after:
                continue
        elif json_equal(before, after):
            continue
        changes[name] = None if after is MISSING else after
    return added, modified, removed, changes or None


def apply_schema_delta(
    schema: object,
    added: Sequence[Any],
    modified: Sequence[Any],
    removed: Sequence[Any],
    metadata_changes: dict[str, Any] | None,
    /,
) -> dict[str, Any]:
    """A new schema with a delta applied (device side); the inputs are not modified.

    Args:
        schema: The schema the delta was computed from.
        added: Nodes to append, in order.
        modified: Replacement nodes: each replaces the first node with its id (later
            nodes with that id are dropped).
        removed: Ids of the nodes to drop (unknown ids are ignored; ``None`` also drops
            nodes that have no ``id``).
        metadata_changes: Top-level keys to set, or to delete where the value is ``None``.

    Returns:
        A shallow copy of ``schema`` with a new ``nodes`` list and the changes applied.

    Raises:
        TypeError: ``added``, ``modified`` or ``removed`` is not a list or a tuple.
        ProtocolError: The schema is not an object with a ``nodes`` array of objects, a
            delta node is not an object, an id is not JSON, or a modified node's id is
            not in the schema (after the removals).
    """
    for name, part in (("added", added), ("modified", modified), ("removed", removed)):
        if not isinstance(part, list | tuple):  # as the native core: a str is no id list
            raise TypeError(f"{name} must be a list, not {type(part).__name__}")
    original, nodes = _schema_nodes(schema)
    _check_nodes(added, "added")
    _check_nodes(modified, "modified")
    removed_keys = {_id_key(value, ("removed", i)) for i, value in enumerate(removed)}
    if (NULL,) in removed_keys:
        # JSON has no undefined: calculate reports a node without id as null, so null
        # also removes nodes without an id.
        removed_keys.add(_UNDEFINED_KEY)
    replacements: dict[Hashable, Any] = {}
    for i, node in enumerate(modified):
        replacements[_id_key(dict.get(node, "id", MISSING), ("modified", i, "id"))] = node
    replaced: set[Hashable] = set()
    result: list[Any] = []
    for i, node in enumerate(nodes):
        key = _id_key(dict.get(node, "id", MISSING), ("nodes", i, "id"))
        if key in removed_keys:
            continue
        replacement = replacements.get(key, MISSING)
        if replacement is MISSING:
            result.append(node)
        elif key not in replaced:
            replaced.add(key)
            result.append(replacement)
    for key, node in replacements.items():
        if key not in replaced:
            raise ProtocolError(
                f"cannot apply delta: modified node {_id_text(dict.get(node, 'id', MISSING))} "
                "is not in the schema"
            )
    result.extend(added)
    updated = dict(dict.items(original))
    updated["nodes"] = result
    if metadata_changes is not None:
        if not isinstance(metadata_changes, dict):
            raise TypeError(
                f"metadata_changes must be a dict or None, not {type(metadata_changes).__name__}"
            )
        for name, value in metadata_changes.items():
            if value is None:
                updated.pop(name, None)
            else:
                updated[name] = value
    return updated
