"""Schema patches: RFC 6902 JSON Patch ops between two schemas (docs/architecture.md, "Extensions").

A node-level delta resends a whole top-level node for a one-character edit deep inside
it; a patch ships only what changed, at any depth, in a format every language has a
library for. The law is unconditional: for any two schemas (reordered nodes, duplicate
or missing ids, other top-level fields included), ``apply_schema_patch(old,
calculate_schema_patch(old, new))`` is JSON-equal to ``new`` and has its checksum, and
so does any conforming RFC 6902 implementation applying the same ops.

Both backends produce the same op list, op for op, and raise the same errors with the
same messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _backend
from .messages import Schema

if TYPE_CHECKING:
    from ._core import SchemaDocument

__all__ = ["apply_schema_patch", "calculate_schema_patch"]


def calculate_schema_patch(
    old: Schema | SchemaDocument, new: Schema | SchemaDocument
) -> list[dict[str, Any]]:
    """The RFC 6902 ops that turn ``old`` into ``new``, to apply one after another.

    Either schema may be a :class:`~lumora_fast.SchemaDocument`, which gives the ops of
    its ``to_python()``.

    Objects are diffed key by key (removals first, then the new keys in ``new``'s
    order). An array whose items are all objects with unique scalar ids (``nodes``,
    ``children``...), on both sides, is matched by id with JS SameValueZero: each
    removal, insert or move is one op (the longest run of items already in order stays
    put), and matched items are diffed in place. Any other array is diffed element by
    element past its equal head and tail, or replaced whole when that serializes
    shorter. Two JSON-equal values get no ops, at any depth, even where a walk part by
    part would tell them apart (keys equal only as UTF-16, ids equal only as JSON, such
    as ``nan`` and ``None``). Pointers are RFC 6901 (``~0``, ``~1``). Values are the
    objects of ``new`` themselves (not copies; for a document, new plain objects that
    are not part of it), except that a non-finite number is ``None``, as the wire
    carries it.

    Raises:
        ProtocolError: A value is not JSON, a key is not a ``str``, or nesting is deeper
            than ``MAX_DEPTH`` (``old`` is checked first).
    """
    patch: list[dict[str, Any]] = _backend.core.calculate_schema_patch(old, new)
    return patch


def apply_schema_patch(schema: Schema, patch: Sequence[Any]) -> Schema:
    """Apply an RFC 6902 patch (device side) and return the new schema.

    ``add``, ``remove``, ``replace``, ``move``, ``copy`` and ``test`` are accepted. Only
    the containers on the paths the ops touch are copied (O(ops x depth), not
    O(schema)); every other subtree, and every op value, is shared with the inputs.
    ``schema`` and ``patch`` are never modified, and an error leaves nothing half done.

    Raises:
        ProtocolError: ``patch`` is not an array, or an op is malformed or fails: not an
            object, an unknown ``op``, a missing or non-string ``path`` / ``from``, a
            missing ``value``, a value that is not JSON, a bad pointer or array index
            (``01``, ``-`` where no insert is meant), a missing target, an index out of
            range, a failing ``test``, a move into its own child, removing the whole
            document. The message starts ``patch op <index>:`` and quotes the pointer.
    """
    result: Schema = _backend.core.apply_schema_patch(schema, patch)
    return result
