"""``SchemaDocument``: an immutable JSON document, parsed once and used by every schema function.

The pure document is the obvious one: a private Python value (what ``loads`` returns)
that no caller ever gets hold of. Each method is the function it is named after applied
to that value, and ``to_python`` returns a new copy each call, so nothing a caller does
to a result can change the document. The functions that take a schema (``dumps``,
``calculate_checksum``, ``canonical_json``, ``calculate_schema_delta``,
``calculate_schema_patch``, ``SchemaTracker.update``) accept a document wherever they
accept a dict, and treat it as its ``to_python()`` (``_values.unwrap``).
"""

from __future__ import annotations

import sys
from typing import Any, final

from ._values import DocumentBase, copy_json
from .canonical import canonical_json, dumps
from .checksum import calculate_checksum
from .parse import loads

__all__ = ["SchemaDocument"]


def _document(value: Any) -> SchemaDocument:
    """A new document holding ``value`` (which no one else may hold)."""
    document = SchemaDocument.__new__(SchemaDocument)  # not __init__: that refuses
    document._value = value
    return document


@final
class SchemaDocument(DocumentBase):
    """An immutable JSON document (a schema, usually): parse once, then hash, diff, write.

    Made by :meth:`parse` (from JSON text) or :meth:`from_python` (from a JSON value);
    there is no constructor. Two documents are equal when they serialize the same
    (``a.dumps() == b.dumps()``); documents are not hashable.
    """

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "SchemaDocument cannot be created directly: use SchemaDocument.parse(data) or "
            "SchemaDocument.from_python(value)"
        )

    @staticmethod
    def parse(
        data: str | bytes | bytearray | memoryview,
        /,
        max_bytes: int | None = None,
        *,
        previous: SchemaDocument | None = None,
    ) -> SchemaDocument:
        """The document of a JSON text: ``loads(data, max_bytes)``, same values, same errors.

        ``previous`` (the document of the file's previous version) lets the native core
        copy what did not change; here it is only checked: the result is the same.

        Raises:
            ProtocolError: What ``loads`` raises (size over ``max_bytes``, invalid UTF-8,
                a syntax error, nesting deeper than ``MAX_DEPTH``...).
            TypeError: ``data`` is not ``str``, ``bytes``, ``bytearray`` or ``memoryview``,
                or ``previous`` is not a document or ``None``.
        """
        if previous is not None and not isinstance(previous, SchemaDocument):
            raise TypeError(
                "SchemaDocument.parse() previous must be a SchemaDocument or None, "
                f"not {type(previous).__name__}"
            )
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        elif not isinstance(data, str | bytes):
            raise TypeError(
                "SchemaDocument.parse() argument must be str, bytes, bytearray or "
                f"memoryview, not {type(data).__name__}"
            )
        return _document(loads(data, max_bytes))

    @staticmethod
    def from_python(obj: object, /) -> SchemaDocument:
        """The document of a JSON value: ``parse(dumps(obj))``.

        ``obj`` is anything ``dumps`` takes (Structs, tuples, subclasses, a document).
        The document holds the JSON text's content, as a JSON reader sees it: tuples are
        lists, Structs dicts, numbers JS numbers (``1.0`` reads back as ``1``, ``2**64 +
        1`` as ``18446744073709552000``, a non-finite number as ``None``), array-index
        keys come first, and keys equal as JS strings are one key.

        Raises:
            ProtocolError: What ``dumps(obj)`` raises for a value that is not JSON.
        """
        return SchemaDocument.parse(dumps(obj))

    @property
    def nbytes(self) -> int:
        """Bytes of memory the document holds: ``sys.getsizeof`` of each object of its
        value (the native document counts its own arrays: the numbers differ)."""
        total = 0
        pending = [self._value]
        while pending:
            value = pending.pop()
            total += sys.getsizeof(value)
            if isinstance(value, dict):
                pending.extend(value)
                pending.extend(value.values())
            elif isinstance(value, list):
                pending.extend(value)
        return total

    def __copy__(self) -> SchemaDocument:
        """Documents are immutable: a copy is the document itself."""
        return self

    def __deepcopy__(self, _memo: object) -> SchemaDocument:
        """Documents are immutable: a copy is the document itself."""
        return self

    def to_python(self) -> Any:
        """The content as a new Python value each call (dicts, lists, str, int, float...)."""
        return copy_json(self._value)

    def dumps(self, pretty: bool = False) -> bytes:
        """``dumps(self.to_python(), pretty=pretty)``: the JSON.stringify bytes."""
        return dumps(self._value, pretty=pretty)

    def checksum(self, algorithm: str = "sha256") -> str:
        """``calculate_checksum(self.to_python(), algorithm)``, with its errors."""
        return calculate_checksum(self._value, algorithm)

    def canonical_json(self) -> bytes:
        """``canonical_json(self.to_python())``, with its errors."""
        return canonical_json(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SchemaDocument):
            return NotImplemented
        return bool(self.dumps() == other.dumps())

    def __repr__(self) -> str:
        return f"<SchemaDocument: {len(self.dumps())} bytes>"
