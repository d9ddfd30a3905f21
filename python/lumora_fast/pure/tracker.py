"""The schema tracker, the obvious way: a delta, a checksum, a trial application and a patch."""

from __future__ import annotations

from typing import Any

from lumora_fast.errors import ProtocolError

from .checksum import calculate_checksum, check_algorithm
from .delta import apply_schema_delta, calculate_schema_delta
from .patch import calculate_schema_patch

__all__ = ["SchemaTracker"]

DeltaTuple = tuple[list[Any], list[Any], list[Any], dict[str, Any] | None]


class SchemaTracker:
    """Remembers the current schema; :meth:`update` diffs the next one against it.

    Args:
        algorithm: Checksum algorithm (``"sha256"`` or ``"xxh3"``).
    """

    def __init__(self, algorithm: str = "sha256") -> None:
        check_algorithm(algorithm)
        self._algorithm = algorithm
        self._schema: Any = None
        self._checksum: str | None = None

    @property
    def schema(self) -> Any:
        """The current schema, or ``None`` before the first update."""
        return self._schema

    @property
    def checksum(self) -> str | None:
        """The current schema's checksum, or ``None`` before the first update."""
        return self._checksum

    def update(
        self, schema: object, /
    ) -> tuple[str, DeltaTuple | None, bool, list[dict[str, Any]] | None]:
        """Make ``schema`` current.

        Returns:
            ``(checksum, delta, incremental, patch)``: the new checksum; the delta from
            the previous schema (``None`` for the first, or when the two cannot be
            diffed); whether applying that delta to the previous schema reproduces the
            new schema's checksum; the patch from the previous schema
            (``calculate_schema_patch``, ``None`` for the first).

        Raises:
            ProtocolError: ``schema`` cannot be checksummed, or the patch cannot be
                calculated; the tracker is unchanged.
        """
        checksum = calculate_checksum(schema, self._algorithm)
        delta: DeltaTuple | None = None
        incremental = False
        if self._schema is not None:
            try:
                delta = calculate_schema_delta(self._schema, schema)
            except ProtocolError:
                delta = None  # where the reference's comparison throws: no delta
        if delta is not None:
            try:
                applied = apply_schema_delta(self._schema, *delta)
            except ProtocolError:
                applied = None  # the delta cannot be applied: it does not reproduce schema
            incremental = applied is not None and (
                calculate_checksum(applied, self._algorithm) == checksum
            )
        patch = None if self._schema is None else calculate_schema_patch(self._schema, schema)
        self._schema = schema
        self._checksum = checksum
        return checksum, delta, incremental, patch
