"""Schema patches: RFC 6902 JSON Patch with RFC 6901 pointers (docs/architecture.md, "Extensions").

``calculate_schema_patch`` diffs objects key by key; an array whose items are all
objects with unique scalar ids (on both sides, neither empty) is matched by id (JS
SameValueZero): a removal, an insert or a move is one op, and matched items are
diffed in place; any other array is diffed element by element after its equal head
and tail (when the lengths differ), or replaced whole when that serializes shorter.
Two JSON-equal values get no ops, at any depth, even where walking them part by part
would tell them apart: keys equal only as UTF-16 (a surrogate pair held as two code
points), ids equal only as JSON (a non-finite number and ``null``). Ops are ordered to
be applied one after another. The native core produces the same op list, op for op
(the algorithm below is its definition).

``apply_schema_patch`` copies only the containers on the paths it touches; everything
else is shared with the input, which is never modified.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable
from typing import Any

from lumora_fast.errors import ProtocolError

from ._number import to_double
from ._strings import quote
from ._values import (
    ARRAY,
    BOOL,
    MISSING,
    NULL,
    NUMBER,
    OBJECT,
    STRING,
    array_items,
    check_json,
    kind_of,
    raw_items,
    unwrap,
)
from .canonical import dumps
from .delta import _id_key, json_equal

__all__ = ["apply_schema_patch", "calculate_schema_patch"]

_DIFF, _EMIT, _FINISH = 0, 1, 2

_ID_KINDS = (STRING, NUMBER, BOOL, NULL)


def _escape(key: str) -> str:
    key = str.__str__(key)
    if "~" in key or "/" in key:
        return key.replace("~", "~0").replace("/", "~1")
    return key


def _wire(value: Any) -> Any:
    """A value as the wire carries it: a non-finite number is ``null``."""
    if kind_of(value) == NUMBER and not math.isfinite(to_double(value)):
        return None
    return value


def _cost(op: dict[str, Any]) -> int:
    """The op's serialized size, with the comma that separates it from the next."""
    return len(dumps(op)) + 1


def _ids(items: list[Any]) -> list[Hashable] | None:
    """The items' SameValueZero id keys, if every item is an object with a scalar id and
    no two ids are equal; else ``None``."""
    keys: list[Hashable] = []
    seen: set[Hashable] = set()
    for item in items:
        if kind_of(item) != OBJECT:
            return None
        id_value = dict.get(item, "id", MISSING)
        if id_value is MISSING or kind_of(id_value) not in _ID_KINDS:
            return None
        key = _id_key(id_value, ())
        if key in seen:
            return None
        seen.add(key)
        keys.append(key)
    return keys


def _stable(positions: list[int]) -> list[int]:
    """Indices (into ``positions``, distinct ints) of a longest increasing subsequence:
    the leftmost tail is replaced, the first longest one is kept."""
    tails: list[int] = []
    previous = [-1] * len(positions)
    for i, value in enumerate(positions):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if positions[tails[mid]] < value:
                lo = mid + 1
            else:
                hi = mid
        if lo > 0:
            previous[i] = tails[lo - 1]
        if lo == len(tails):
            tails.append(i)
        else:
            tails[lo] = i
    result: list[int] = []
    k = tails[-1] if tails else -1
    while k >= 0:
        result.append(k)
        k = previous[k]
    result.reverse()
    return result


class _Differ:
    """The diff as a work stack (any depth up to ``MAX_DEPTH``, no recursion): a task
    diffs a pair, emits an op, or closes an element-wise array (replacing its ops by one
    ``replace`` when that is shorter)."""

    def __init__(self) -> None:
        self.ops: list[dict[str, Any]] = []
        self.costs: list[int] = []
        self.stack: list[tuple[Any, ...]] = []

    def run(self, old: Any, new: Any) -> list[dict[str, Any]]:
        self.stack.append((_DIFF, old, new, ""))
        while self.stack:
            task = self.stack.pop()
            if task[0] == _DIFF:
                self.diff(task[1], task[2], task[3])
            elif task[0] == _EMIT:
                self.ops.append(task[1])
                self.costs.append(_cost(task[1]))
            else:
                self.finish(task[1], task[2], task[3])
        return self.ops

    def later(self, tasks: list[tuple[Any, ...]]) -> None:
        """Schedule ``tasks`` to run next, in order."""
        self.stack.extend(reversed(tasks))

    def diff(self, old: Any, new: Any, path: str) -> None:
        old_kind, new_kind = kind_of(old), kind_of(new)
        if old_kind == OBJECT and new_kind == OBJECT:
            self.objects(old, new, path)
        elif old_kind == ARRAY and new_kind == ARRAY:
            old_items, new_items = array_items(old), array_items(new)
            old_ids, new_ids = _ids(old_items), _ids(new_items)
            if old_items and new_items and old_ids is not None and new_ids is not None:
                self.by_id(old_items, new_items, old_ids, new_ids, path)
            else:
                self.elementwise(old_items, new_items, new, path)
        elif not json_equal(old, new):
            self.later([(_EMIT, {"op": "replace", "path": path, "value": _wire(new)})])

    def objects(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        tasks: list[tuple[Any, ...]] = [
            (_EMIT, {"op": "remove", "path": f"{path}/{_escape(key)}"})
            for key, _ in raw_items(old, OBJECT)
            if dict.get(new, key, MISSING) is MISSING
        ]
        keys_differ = bool(tasks)
        for key, value in raw_items(new, OBJECT):
            before = dict.get(old, key, MISSING)
            where = f"{path}/{_escape(key)}"
            if before is MISSING:
                keys_differ = True
                tasks.append((_EMIT, {"op": "add", "path": where, "value": _wire(value)}))
            else:
                tasks.append((_DIFF, before, value, where))
        # Objects with the same keys need ops only where their values do; others may
        # still be JSON-equal (keys equal as UTF-16 only), and then need none.
        if keys_differ and json_equal(old, new):
            return
        self.later(tasks)

    def by_id(
        self,
        old: list[Any],
        new: list[Any],
        old_ids: list[Hashable],
        new_ids: list[Hashable],
        path: str,
    ) -> None:
        new_at = {key: j for j, key in enumerate(new_ids)}
        old_at = {key: i for i, key in enumerate(old_ids)}
        tasks: list[tuple[Any, ...]] = [
            (_EMIT, {"op": "remove", "path": f"{path}/{i}"})
            for i in reversed(range(len(old_ids)))
            if old_ids[i] not in new_at
        ]
        current = [key for key in old_ids if key in new_at]
        in_current = {key: i for i, key in enumerate(current)}
        matched = [key for key in new_ids if key in in_current]
        stable = {matched[k] for k in _stable([in_current[key] for key in matched])}
        for j, key in enumerate(new_ids):
            if key in stable:
                continue
            at = current.index(key) if key in in_current else -1
            if at >= 0:
                del current[at]
            # Right after its predecessor in the new order, wherever that is by now.
            to = current.index(new_ids[j - 1]) + 1 if j else 0
            current.insert(to, key)
            if at < 0:
                tasks.append((_EMIT, {"op": "add", "path": f"{path}/{to}", "value": new[j]}))
            elif at != to:
                tasks.append(
                    (_EMIT, {"op": "move", "from": f"{path}/{at}", "path": f"{path}/{to}"})
                )
        for j, key in enumerate(new_ids):
            i = old_at.get(key)
            if i is not None:
                tasks.append((_DIFF, old[i], new[j], f"{path}/{j}"))
        # Arrays with the same ids in the same order need ops only where their items do;
        # others may still be JSON-equal (ids equal as JSON only), and then need none.
        if old_ids != new_ids and json_equal(old, new):
            return
        self.later(tasks)

    def elementwise(self, old: list[Any], new: list[Any], whole: Any, path: str) -> None:
        old_len, new_len = len(old), len(new)
        head = tail = 0
        if old_len != new_len:
            shorter = min(old_len, new_len)
            while head < shorter and json_equal(old[head], new[head]):
                head += 1
            while tail < shorter - head and json_equal(
                old[old_len - 1 - tail], new[new_len - 1 - tail]
            ):
                tail += 1
        old_mid, new_mid = old_len - head - tail, new_len - head - tail
        tasks: list[tuple[Any, ...]] = [
            (_DIFF, old[i], new[i], f"{path}/{i}")
            for i in range(head, head + min(old_mid, new_mid))
        ]
        tasks.extend(
            (_EMIT, {"op": "remove", "path": f"{path}/{i}"})
            for i in reversed(range(head + new_mid, head + old_mid))
        )
        tasks.extend(
            (_EMIT, {"op": "add", "path": f"{path}/{i}", "value": _wire(new[i])})
            for i in range(head + old_mid, head + new_mid)
        )
        tasks.append((_FINISH, len(self.ops), path, whole))
        self.later(tasks)

    def finish(self, start: int, path: str, whole: Any) -> None:
        if start == len(self.ops):
            return
        replace = {"op": "replace", "path": path, "value": whole}
        cost = _cost(replace)
        if cost < sum(self.costs[start:]):
            del self.ops[start:]
            del self.costs[start:]
            self.ops.append(replace)
            self.costs.append(cost)


def calculate_schema_patch(old: object, new: object, /) -> list[dict[str, Any]]:
    """The RFC 6902 ops that turn ``old`` into ``new`` (any two JSON values).

    Values in the ops are the objects of ``new`` themselves (not copies), except that a
    non-finite number is written ``None``, as the wire carries it. A ``SchemaDocument``
    is diffed as its ``to_python()`` (so op values are never part of the document).

    Raises:
        ProtocolError: A value is not JSON, or nests deeper than ``MAX_DEPTH`` (``old``
            checked first).
    """
    old = unwrap(old)
    new = unwrap(new)
    check_json(old)
    check_json(new)
    return _Differ().run(old, new)


_OPS = ("add", "remove", "replace", "move", "copy", "test")
_BAD_ESCAPE = re.compile("~(?![01])")


def _fault(index: int, reason: str) -> ProtocolError:
    return ProtocolError(f"patch op {index}: {reason}")


def _text_member(op: dict[str, Any], name: str, index: int) -> str:
    value = dict.get(op, name, MISSING)
    if value is MISSING:
        raise _fault(index, f"missing {name!r}")
    if not isinstance(value, str):
        raise _fault(index, f"{name!r} must be a string, got {type(value).__name__}")
    return str.__str__(value)


def _tokens(pointer: str, index: int) -> list[str]:
    if not pointer:
        return []
    if pointer[0] != "/" or _BAD_ESCAPE.search(pointer):
        raise _fault(index, f"invalid pointer {quote(pointer)}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _array_index(token: str, size: int, pointer: str, index: int, *, end: bool) -> int:
    """The index ``token`` names in an array of ``size`` items (``end``: ``-`` and
    ``size`` itself are allowed, as where ``add`` inserts)."""
    if end and token == "-":
        return size
    if not (token.isascii() and token.isdigit()) or (len(token) > 1 and token[0] == "0"):
        raise _fault(index, f"invalid array index {quote(token)} in {quote(pointer)}")
    position = int(token)
    if position > size or (position == size and not end):
        raise _fault(index, f"index {token} out of range in {quote(pointer)}")
    return position


class _Document:
    """The result being built: containers copied on first write (``owned``, kept alive
    so that their ids stay unique), everything else shared with the input."""

    def __init__(self, root: Any) -> None:
        self.owned: set[int] = set()
        self.keep: list[Any] = []
        self.root = self.own(root) if kind_of(root) in (OBJECT, ARRAY) else root

    def own(self, container: Any) -> Any:
        if id(container) in self.owned:
            return container
        if kind_of(container) == OBJECT:
            copy: Any = dict(dict.items(container))
        else:
            copy = array_items(container)
        self.owned.add(id(copy))
        self.keep.append(copy)
        return copy

    def share(self, value: Any) -> None:
        """``value`` is about to be in two places (a ``copy``): no container in it may be
        changed in place any more, or the change would show in both (and a copy into its
        own descendant would make the result contain itself). Containers are owned from
        the root down, so only owned ones can hold owned ones."""
        stack = [value]
        while stack:
            node = stack.pop()
            if id(node) not in self.owned:
                continue
            self.owned.discard(id(node))
            kind = kind_of(node)
            if kind == OBJECT:
                stack.extend(dict.values(node))
            elif kind == ARRAY:
                stack.extend(array_items(node))

    def find(self, tokens: list[str], pointer: str, index: int, *, source: bool = False) -> Any:
        """The value at ``tokens``, or the op's error."""
        node = self.root
        for token in tokens:
            kind = kind_of(node)
            if kind == OBJECT:
                node = dict.get(node, token, MISSING)
            elif kind == ARRAY:
                items = array_items(node)
                node = items[_array_index(token, len(items), pointer, index, end=False)]
            else:
                node = MISSING
            if node is MISSING:
                where = f"from {quote(pointer)}" if source else quote(pointer)
                raise _fault(index, f"{where} not found")
        return node

    def writable(self, tokens: list[str]) -> Any:
        """The (owned) container at ``tokens``, which :meth:`find` found."""
        # The root too may be shared: the caller's value after a ``replace`` of the
        # whole document, or the previous root after a ``copy`` of it.
        if kind_of(self.root) in (OBJECT, ARRAY):
            self.root = self.own(self.root)
        node = self.root
        for token in tokens:
            if isinstance(node, dict):
                child = node[token] = self.own(node[token])
            else:
                position = int(token)
                child = node[position] = self.own(node[position])
            node = child
        return node

    def add(self, tokens: list[str], value: Any, pointer: str, index: int) -> None:
        if not tokens:
            self.root = value
            return
        parent = self.find(tokens[:-1], pointer, index)
        kind = kind_of(parent)
        if kind == ARRAY:
            position = _array_index(tokens[-1], len(array_items(parent)), pointer, index, end=True)
            self.writable(tokens[:-1]).insert(position, value)
        elif kind == OBJECT:
            self.writable(tokens[:-1])[tokens[-1]] = value
        else:
            raise _fault(index, f"{quote(pointer)} not found")

    def remove(self, tokens: list[str], pointer: str, index: int, *, source: bool = False) -> Any:
        if not tokens:
            raise _fault(index, "cannot remove the whole document")
        value = self.find(tokens, pointer, index, source=source)
        parent = self.writable(tokens[:-1])
        if isinstance(parent, dict):
            del parent[tokens[-1]]
        else:
            del parent[int(tokens[-1])]
        return value


def _apply(document: _Document, index: int, op: Any) -> None:
    if not isinstance(op, dict):
        raise ProtocolError(f"patch op {index} must be an object, got {type(op).__name__}")
    name = _text_member(op, "op", index)
    if name not in _OPS:
        raise _fault(index, f"unknown op {quote(name)}")
    pointer = _text_member(op, "path", index)
    tokens = _tokens(pointer, index)
    source, source_tokens = "", []
    if name in ("move", "copy"):
        source = _text_member(op, "from", index)
        source_tokens = _tokens(source, index)
    value = MISSING
    if name in ("add", "replace", "test"):
        value = dict.get(op, "value", MISSING)
        if value is MISSING:
            raise _fault(index, "missing 'value'")
        try:
            check_json(value, ("value",))
        except ProtocolError as exc:
            raise _fault(index, str(exc)) from None
    if name == "add":
        document.add(tokens, value, pointer, index)
    elif name == "remove":
        document.remove(tokens, pointer, index)
    elif name == "replace":
        document.find(tokens, pointer, index)
        if tokens:
            parent = document.writable(tokens[:-1])
            if isinstance(parent, dict):
                parent[tokens[-1]] = value
            else:
                parent[int(tokens[-1])] = value
        else:
            document.root = value
    elif name == "test":
        target = document.find(tokens, pointer, index)
        try:
            check_json(target)
        except ProtocolError as exc:
            raise _fault(index, str(exc)) from None
        if not json_equal(target, value):
            raise _fault(index, f"test failed at {quote(pointer)}")
    elif name == "copy":
        moved = document.find(source_tokens, source, index, source=True)
        document.share(moved)
        document.add(tokens, moved, pointer, index)
    else:
        moved = document.find(source_tokens, source, index, source=True)
        if tokens == source_tokens:
            return
        if tokens[: len(source_tokens)] == source_tokens:
            raise _fault(index, f"cannot move {quote(source)} into itself at {quote(pointer)}")
        document.remove(source_tokens, source, index, source=True)
        document.add(tokens, moved, pointer, index)


def apply_schema_patch(schema: object, patch: object, /) -> Any:
    """A new schema with an RFC 6902 patch applied; ``schema`` and ``patch`` are not
    modified, and nothing is returned unless every op applies.

    Containers on the paths the ops touch are copied (a ``tuple`` becomes a ``list``);
    everything else, op values included, is shared with the inputs.

    Raises:
        ProtocolError: ``patch`` is not an array, or an op is malformed (not an object,
            unknown ``op``, a missing or non-string ``path`` / ``from``, a missing
            ``value``, a value that is not JSON, a bad pointer or array index) or fails
            (a missing target, an index out of range, a failing ``test``, a move into
            itself, removing the whole document). The message names the op's index.
    """
    if not isinstance(patch, list | tuple):
        raise ProtocolError(f"patch must be an array, got {type(patch).__name__}")
    document = _Document(schema)
    for index, op in enumerate(array_items(patch)):
        _apply(document, index, op)
    return document.root
