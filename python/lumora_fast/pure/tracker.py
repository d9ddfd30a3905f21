"""The schema tracker, the obvious way: a delta, a checksum, a trial application and a patch."""

from __future__ import annotations

import math
import re
from typing import Any

from lumora_fast.errors import ProtocolError

from ._values import ARRAY, NUMBER, OBJECT, STRING, STRUCT, array_items, kind_of, raw_items, unwrap
from .canonical import dumps
from .checksum import calculate_checksum, check_algorithm
from .delta import apply_schema_delta, calculate_schema_delta
from .patch import calculate_schema_patch

__all__ = ["SchemaTracker"]

DeltaTuple = tuple[list[Any], list[Any], list[Any], dict[str, Any] | None]
Change = tuple[str, DeltaTuple | None, bool, list[dict[str, Any]] | None]
EncodedChange = tuple[str, bytes | None, int, bool, bytes | None, int | None]


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
        """The current schema (the object given to :meth:`update`, a dict or a
        ``SchemaDocument``), or ``None`` before the first update."""
        return self._schema

    @property
    def checksum(self) -> str | None:
        """The current schema's checksum, or ``None`` before the first update."""
        return self._checksum

    def update(
        self, schema: object, /, encoded: bool = False, with_delta: bool = True
    ) -> Change | EncodedChange:
        """Make ``schema`` current (a dict or a ``SchemaDocument``, diffed as its
        ``to_python()``; either may follow the other).

        Returns:
            ``(checksum, delta, incremental, patch)``: the new checksum; the delta from
            the previous schema (``None`` for the first, or when the two cannot be
            diffed); whether applying that delta to the previous schema reproduces the
            new schema's checksum; the patch from the previous schema
            (``calculate_schema_patch``, ``None`` for the first). With ``encoded``:
            ``(checksum, delta JSON, node changes, incremental, patch JSON)``, the delta
            written as ``serialize_message`` writes a ``SchemaDelta`` (``added``,
            ``modified``, ``removed``, then ``metadataChanges`` when there are any) and
            the patch as ``dumps`` writes the op list; node changes is the length of
            the three lists together (0 without a delta). The delta's JSON is left out
            (``None``) unless ``with_delta``; its node changes are counted either way.

        Raises:
            ProtocolError: ``schema`` cannot be checksummed, or the patch cannot be
                calculated; the tracker is unchanged.
        """
        previous = None if self._schema is None else unwrap(self._schema)
        value = unwrap(schema)
        checksum = calculate_checksum(value, self._algorithm)
        delta: DeltaTuple | None = None
        incremental = False
        if previous is not None:
            try:
                delta = calculate_schema_delta(previous, value)
            except ProtocolError:
                delta = None  # where the reference's comparison throws: no delta
        if delta is not None:
            try:
                applied = apply_schema_delta(previous, *delta)
            except ProtocolError:
                applied = None  # the delta cannot be applied: it does not reproduce schema
            incremental = applied is not None and (
                calculate_checksum(applied, self._algorithm) == checksum
            )
        patch = None if previous is None else calculate_schema_patch(previous, value)
        self._schema = schema
        self._checksum = checksum
        if not encoded:
            return checksum, delta, incremental, patch
        size = _json_len(value)
        if delta is None:
            return checksum, None, 0, incremental, None if patch is None else dumps(patch), size
        added, modified, removed, changes = delta
        written: dict[str, Any] = {"added": added, "modified": modified, "removed": removed}
        if changes is not None:
            written["metadataChanges"] = changes
        delta_json = dumps(written) if with_delta else None
        count = len(added) + len(modified) + len(removed)
        return (
            checksum,
            delta_json,
            count,
            incremental,
            None if patch is None else dumps(patch),
            size,
        )


def _json_len(value: Any) -> int | None:
    """``len(dumps(value))``, or ``None`` where the native tracker cannot tell it from its
    canonical form: a ``__proto__`` key (dropped there), a key or string holding a
    surrogate, a number that is not finite as a double, or a Struct (see
    ``rust/bindings/mod.rs``, ``stringify_len``)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = kind_of(item)
        if kind == NUMBER and not isinstance(item, bool):
            try:
                if not math.isfinite(float(item)):
                    return None
            except OverflowError:
                return None
        elif (kind == STRING and _SURROGATE.search(item)) or kind == STRUCT:
            return None
        elif kind == ARRAY:
            stack.extend(array_items(item))
        elif kind == OBJECT:
            for key, child in raw_items(item, OBJECT):
                if key == "__proto__" or (isinstance(key, str) and _SURROGATE.search(key)):
                    return None
                stack.append(child)
    return len(dumps(value))


_SURROGATE = re.compile("[\ud800-\udfff]")
