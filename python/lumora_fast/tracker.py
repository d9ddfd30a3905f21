"""The server's view of a schema over time: each new schema yields its delta, patch and checksum.

:class:`SchemaTracker` remembers the current schema. Given the next one, it returns a
:class:`SchemaChange`: the delta and the patch from the previous schema, the new schema's
checksum, and whether applying the delta on a device reproduces the new schema exactly
(the delta law, docs/architecture.md "Compatibility"); when it does not, the server must
send a full update (or the patch, to a device that asked for patches: a patch always
reproduces the new schema). The native tracker keeps the canonical hashes of the current
schema's array items (nodes, children...) and top-level members, so an update walks the
new schema once: the checksum, the delta and the hashes come out of the same walk, and the
patch diff skips every subtree whose hash did not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import UNSET, Struct

from . import _backend
from .checksum import ChecksumAlgorithm
from .messages import MetadataChanges, Schema, SchemaDelta

if TYPE_CHECKING:
    from ._core import SchemaDocument

__all__ = ["EncodedChange", "SchemaChange", "SchemaTracker"]


class SchemaChange(Struct, frozen=True, kw_only=True):
    """What changed between the tracker's previous schema and a new one."""

    schema: Schema | SchemaDocument
    """The new schema (now the tracker's current schema): the object given to
    :meth:`SchemaTracker.update`, a dict or a :class:`~lumora_fast.SchemaDocument`."""
    checksum: str
    """Checksum of the new schema, with the tracker's algorithm."""
    delta: SchemaDelta | None
    """Changes from the previous schema; ``None`` for the first schema, or when the two
    cannot be diffed (where :func:`calculate_schema_delta` would raise)."""
    incremental: bool
    """True when applying ``delta`` to the previous schema yields a schema with the same
    checksum as ``schema``: an incremental update is then exact."""
    patch: list[dict[str, Any]] | None = None
    """RFC 6902 ops from the previous schema to ``schema`` (what
    :func:`~lumora_fast.calculate_schema_patch` returns); ``None`` for the first schema.
    Applying them always yields a schema JSON-equal to ``schema``, with its checksum."""


class SchemaTracker:
    """Tracks the current schema of a hot-reload session.

    Schemas are dicts or :class:`~lumora_fast.SchemaDocument` objects, in any mix: a
    document is diffed as its ``to_python()``, and kept as given (:attr:`schema` is that
    document). A document cannot change; the tracker keeps a reference to a dict schema
    too: do not modify a dict after handing it to :meth:`update`. (The native tracker
    remembers the hashes of its subtrees: the next patch would describe the change from
    the schema as it was when handed over, which is what devices were sent; a device
    that ends up with another checksum reloads.)

    Args:
        schema: The initial schema, if any.
        algorithm: Checksum algorithm for :attr:`SchemaChange.checksum`.

    Raises:
        ProtocolError: The initial schema cannot be checksummed.
        ValueError: Unknown ``algorithm``.
    """

    def __init__(
        self,
        schema: Schema | SchemaDocument | None = None,
        *,
        algorithm: ChecksumAlgorithm = "sha256",
    ) -> None:
        self._core = _backend.core.SchemaTracker(algorithm)
        if schema is not None:
            self.update(schema)

    @property
    def schema(self) -> Schema | SchemaDocument | None:
        """The current schema, as given to :meth:`update` (a dict or a document)."""
        schema: Schema | SchemaDocument | None = self._core.schema
        return schema

    @property
    def checksum(self) -> str | None:
        """The current schema's checksum."""
        return self._core.checksum

    def update(self, schema: Schema | SchemaDocument) -> SchemaChange:
        """Make ``schema`` current and describe how it differs from the previous one.

        ``schema`` is a dict or a :class:`~lumora_fast.SchemaDocument`; the delta's nodes
        and the patch's values are plain objects either way (a document's are its own
        copies, not part of it).

        Raises:
            ProtocolError: ``schema`` cannot be checksummed (no ``metadata`` object, a
                value that is not JSON, nesting too deep). The tracker keeps its
                previous schema.
        """
        checksum, raw, incremental, patch = self._core.update(schema)
        delta = None
        if raw is not None:
            added, modified, removed, changes = raw
            delta = SchemaDelta(
                added=added,
                modified=modified,
                removed=removed,
                metadata_changes=UNSET if changes is None else MetadataChanges(**changes),
            )
        return SchemaChange(
            schema=schema, checksum=checksum, delta=delta, incremental=incremental, patch=patch
        )

    def update_encoded(
        self, schema: Schema | SchemaDocument, *, delta: bool = True
    ) -> EncodedChange:
        """:meth:`update`, with the delta and the patch as the JSON an ``update`` carries.

        What a server wants: the changed values go from the schema (a
        :class:`~lumora_fast.SchemaDocument` above all) straight to JSON bytes, with no
        Python object made of any of them. The bytes are what
        :func:`~lumora_fast.serialize_message` writes for ``SchemaChange.delta`` and
        ``SchemaChange.patch``.

        Args:
            delta: Also write the delta's JSON (its node count comes either way); a
                server with no device that takes incremental updates skips it.

        Raises:
            ProtocolError: As :meth:`update`.
        """
        checksum, delta_json, changes, incremental, patch, json_len = self._core.update(
            schema, encoded=True, with_delta=delta
        )
        return EncodedChange(
            checksum=checksum,
            delta=delta_json,
            delta_changes=changes,
            incremental=incremental,
            patch=patch,
            json_len=json_len,
        )


class EncodedChange(Struct, frozen=True, kw_only=True):
    """What :meth:`SchemaTracker.update_encoded` returns: a :class:`SchemaChange` whose
    delta and patch are JSON bytes."""

    checksum: str
    """Checksum of the new schema, with the tracker's algorithm."""
    delta: bytes | None
    """The delta as a JSON object (``{"added": [...], "modified": [...], ...}``);
    ``None`` when there is none (see :attr:`SchemaChange.delta`) or it was not asked
    for."""
    delta_changes: int
    """Nodes added, modified and removed in the delta (0 without one)."""
    incremental: bool
    """See :attr:`SchemaChange.incremental`."""
    patch: bytes | None
    """The RFC 6902 ops as a JSON array; ``None`` for the first schema."""
    json_len: int | None = None
    """``len(dumps(schema))``, known from the checksum's walk without writing the
    schema; ``None`` where that walk cannot tell it (a ``__proto__`` key, a surrogate in
    a key or string, a non-finite number)."""
