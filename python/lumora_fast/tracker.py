"""The server's view of a schema over time: each new schema yields its delta and checksum.

:class:`SchemaTracker` remembers the current schema. Given the next one, it returns a
:class:`SchemaChange`: the delta from the previous schema, the new schema's checksum, and
whether applying the delta on a device reproduces the new schema exactly (DESIGN.md's
law); when it does not, the server must send a full update.
"""

from __future__ import annotations

from msgspec import Struct

from .checksum import ChecksumAlgorithm, calculate_checksum
from .delta import apply_schema_delta, calculate_schema_delta
from .errors import ProtocolError
from .messages import Schema, SchemaDelta

__all__ = ["SchemaChange", "SchemaTracker"]


class SchemaChange(Struct, frozen=True, kw_only=True):
    """What changed between the tracker's previous schema and a new one."""

    schema: Schema
    """The new schema (now the tracker's current schema)."""
    checksum: str
    """Checksum of the new schema, with the tracker's algorithm."""
    delta: SchemaDelta | None
    """Changes from the previous schema; ``None`` for the first schema, or when the two
    cannot be diffed."""
    incremental: bool
    """True when applying ``delta`` to the previous schema yields a schema with the same
    checksum as ``schema``: an incremental update is then exact."""


class SchemaTracker:
    """Tracks the current schema of a hot-reload session.

    Args:
        schema: The initial schema, if any.
        algorithm: Checksum algorithm for :attr:`SchemaChange.checksum`.

    Raises:
        ProtocolError: The initial schema has no ``metadata`` object, is not JSON, or
            nests too deeply.
    """

    def __init__(
        self, schema: Schema | None = None, *, algorithm: ChecksumAlgorithm = "sha256"
    ) -> None:
        self._algorithm: ChecksumAlgorithm = algorithm
        self._schema: Schema | None = None
        self._checksum: str | None = None
        if schema is not None:
            self.update(schema)

    @property
    def schema(self) -> Schema | None:
        """The current schema."""
        return self._schema

    @property
    def checksum(self) -> str | None:
        """The current schema's checksum."""
        return self._checksum

    def update(self, schema: Schema) -> SchemaChange:
        """Make ``schema`` current and describe how it differs from the previous one.

        Raises:
            ProtocolError: ``schema`` cannot be checksummed (no ``metadata`` object, a
                value that is not JSON, nesting too deep, ``nodes`` not an array of
                objects). The tracker keeps its previous schema.
        """
        checksum = calculate_checksum(schema, algorithm=self._algorithm)
        previous = self._schema
        delta: SchemaDelta | None = None
        incremental = False
        if previous is not None:
            try:
                delta = calculate_schema_delta(previous, schema)
            except ProtocolError:
                delta = None
            if delta is not None:
                applied = apply_schema_delta(previous, delta)
                incremental = calculate_checksum(applied, algorithm=self._algorithm) == checksum
        self._schema = schema
        self._checksum = checksum
        return SchemaChange(schema=schema, checksum=checksum, delta=delta, incremental=incremental)
