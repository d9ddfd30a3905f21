"""Schema deltas: what the server sends instead of a whole schema, and how a device applies it.

The wire format is the reference's ``SchemaDelta``; the semantics are fixed
(docs/architecture.md, "Compatibility"): nodes are matched by id at the top level and compared
deeply, removals are always reported, and ``version`` / ``theme`` / ``navigation``
changes are carried in ``metadataChanges`` (``None`` for a removed key).

The law ``checksum(apply(old, delta(old, new))) == checksum(new)`` holds when the ids are
unique, the schemas differ only in ``nodes``, ``version``, ``theme``, ``navigation`` and
``metadata.generatedAt``, and surviving nodes keep their order with new nodes at the end,
with two more limits of the format itself: ``None`` in ``metadataChanges`` means "delete",
so a new explicit ``null`` for one of those keys cannot be sent; and JSON writes a missing
id as ``null``, so a node with ``"id": null`` and a node without an id count as the same
id. :class:`~lumora_fast.SchemaTracker` checks all of this and reports when an
incremental update would not be exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from . import _backend
from .constants import INCREMENTAL_THRESHOLD
from .messages import MetadataChanges, Schema, SchemaDelta

if TYPE_CHECKING:
    from ._core import SchemaDocument

__all__ = ["apply_schema_delta", "calculate_schema_delta", "should_use_incremental_update"]

_META_KEYS = ("version", "theme", "navigation")


def calculate_schema_delta(
    old: Schema | SchemaDocument, new: Schema | SchemaDocument
) -> SchemaDelta:
    """The changes that turn ``old`` into ``new``.

    Either schema may be a :class:`~lumora_fast.SchemaDocument`, which gives the delta of
    its ``to_python()``. ``added`` and ``modified`` hold the nodes of ``new`` themselves
    (not copies; for a document, new plain objects that are not part of it), in
    ``new``'s order; ``removed`` holds the ids of nodes gone from ``old``, in ``old``'s
    order. For a duplicated id the first position and the last node count, as in the
    reference.

    Raises:
        ProtocolError: A schema is not an object, its ``nodes`` is not an array, or a
            node is not an object; or a value is not JSON or nests too deeply.
    """
    added, modified, removed, changes = _backend.core.calculate_schema_delta(old, new)
    return SchemaDelta(
        added=added,
        modified=modified,
        removed=removed,
        metadata_changes=UNSET if changes is None else MetadataChanges(**changes),
    )


def apply_schema_delta(schema: Schema, delta: SchemaDelta) -> Schema:
    """Apply a delta on the device side and return the new schema (``schema`` is untouched).

    Removed ids are dropped, modified nodes replaced in place, added nodes appended in
    delta order, then ``version`` / ``theme`` / ``navigation`` set from
    ``metadataChanges`` (``None`` deletes the key).

    Raises:
        ProtocolError: The schema is not an object with a ``nodes`` array, or a delta node
            is not an object.
    """
    changes = delta.metadata_changes
    change_map: dict[str, Any] | None = None
    if changes is not UNSET:
        change_map = {
            key: value for key in _META_KEYS if (value := getattr(changes, key)) is not UNSET
        }
    return _backend.core.apply_schema_delta(
        schema, delta.added, delta.modified, delta.removed, change_map
    )


def should_use_incremental_update(
    delta: SchemaDelta, threshold: float = INCREMENTAL_THRESHOLD
) -> bool:
    """True when the delta has at least one and fewer than ``threshold`` node changes."""
    total = len(delta.added) + len(delta.modified) + len(delta.removed)
    return 0 < total < threshold
