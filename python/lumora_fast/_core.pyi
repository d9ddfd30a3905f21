"""Stubs for ``lumora_fast._core``, the native (Rust) backend.

``lumora_fast.pure`` exposes the same names with the same behaviour; the public API in
``lumora_fast`` calls whichever backend ``lumora_fast._backend`` selected. Everything here
is the reference implementation's behaviour (JavaScript semantics) applied to Python
values; see docs/architecture.md "Compatibility".

JSON values accepted wherever a value is walked: ``dict`` (keys must be ``str``),
``list``, ``tuple``, ``str``, ``int``, ``float``, ``bool``, ``None``, and msgspec Structs
(fields in definition order, wire names from ``rename``, the tag field first, fields that
are ``msgspec.UNSET`` omitted). Subclasses of these builtins count as the builtin.
Anything else raises ``ProtocolError("unsupported type <name> at <path>")``; a dict key
that is not a ``str`` raises ``ProtocolError("dict key must be str, got <name> at
<path>")``; containers nested deeper than :data:`MAX_DEPTH` raise ``ProtocolError("nesting
depth exceeds 512 at <path>")``. ``<path>`` is a JSONPath-like location such as
``$.nodes[3].props.size`` (``$`` is the root; a key that is not an identifier
``[A-Za-z_$][A-Za-z0-9_$]*`` is written ``["key"]`` with JSON string escaping).

A :class:`SchemaDocument` of this module is accepted wherever a schema is taken
(``dumps``, ``calculate_checksum``, ``canonical_json``, ``calculate_schema_delta``,
``calculate_schema_patch``, ``SchemaTracker.update``) and gives the result its
``to_python()`` would; ``apply_schema_delta``, ``apply_schema_patch`` and the validators
take plain values only.
"""

from collections.abc import Sequence
from typing import Any, ClassVar, Final, Literal, final, overload

__all__ = [
    "MAX_DEPTH",
    "SchemaDocument",
    "SchemaTracker",
    "__version__",
    "apply_schema_delta",
    "apply_schema_patch",
    "calculate_checksum",
    "calculate_schema_delta",
    "calculate_schema_patch",
    "canonical_json",
    "dumps",
    "loads",
    "schema_problem",
    "validate_message",
    "validate_protocol_version",
    "validate_session_id",
]

__version__: Final[str]

MAX_DEPTH: Final[int]
"""Deepest container nesting accepted (512): ``[]`` is depth 1, ``[[]]`` depth 2."""

def dumps(obj: SchemaDocument | object, /, *, pretty: bool = False) -> bytes:
    """``JSON.stringify(obj)`` (or ``JSON.stringify(obj, null, 2)``) as UTF-8 bytes.

    A :class:`SchemaDocument` is written as its ``to_python()`` (``doc.dumps()``).

    JS number formatting (``100.0`` -> ``100``, ``1e21`` -> ``1e+21``, ints beyond 2**53
    as the nearest double, non-finite -> ``null``), JS key order (array-index keys first
    in numeric order, then insertion order), JSON.stringify string escaping (lone
    surrogates as ``\\udxxx``).
    """

def loads(data: str | bytes, /, max_bytes: int | None = None) -> Any:
    """Parse JSON text with ``JSON.parse``'s grammar into the values ``json.loads`` gives.

    ``max_bytes`` bounds the UTF-8 size of ``data`` (for a ``str``, its UTF-8 encoding
    with surrogates counted as 3 bytes); larger input raises ``ProtocolError("message is
    <n> bytes, over the limit of <max_bytes>")`` before any parsing. It must be an ``int``
    of at least 0 (``TypeError``, ``ValueError``) or ``None`` (no limit).

    Rejects (``ProtocolError``): invalid UTF-8 bytes, a BOM, whitespace other than
    space/tab/LF/CR, ``NaN``/``Infinity``, trailing data, nesting deeper than
    ``MAX_DEPTH``. Accepts lone surrogates (escaped or raw in a ``str``). Integers without
    fraction or exponent become ``int`` (exact), other numbers ``float`` (``1e400`` is
    ``inf``). For duplicate keys the last value wins at the first key's position.
    """

def validate_message(obj: object, /) -> list[str]:
    """The reference's ``validateMessage(obj).errors`` (empty when valid).

    Raises ``ProtocolError`` where the reference throws a TypeError (a ``type`` whose
    string conversion meets an object with an own ``toString`` key), with the message
    ``"Cannot convert object to primitive value"``.
    """

def validate_protocol_version(client: str, server: str, /) -> list[str]:
    """The reference's ``validateProtocolVersion(client, server).errors``.

    Raises ``TypeError`` if either argument is not a ``str``.
    """

def validate_session_id(value: object, /) -> list[str]:
    """The reference's ``validateSessionId(value).errors`` (lengths in UTF-16 units)."""

def calculate_checksum(
    schema: SchemaDocument | object, /, algorithm: Literal["sha256", "xxh3"] = "sha256"
) -> str:
    """Checksum of the canonical JSON of ``schema`` (a dict or a :class:`SchemaDocument`).

    ``"sha256"``: 64 lowercase hex digits, identical to the reference. ``"xxh3"``:
    ``"xxh3:"`` + 32 lowercase hex digits of XXH3-128 over the same bytes. Raises
    ``ProtocolError`` where the reference throws (``schema`` not a dict, ``metadata``
    missing, or ``metadata`` neither an object nor an array); ``ValueError`` for an
    unknown algorithm.
    """

def canonical_json(schema: SchemaDocument | object, /) -> bytes:
    """The exact bytes :func:`calculate_checksum` hashes (a dict or a :class:`SchemaDocument`)."""

def calculate_schema_delta(
    old: SchemaDocument | object, new: SchemaDocument | object, /
) -> tuple[list[Any], list[Any], list[Any], dict[str, Any] | None]:
    """``(added, modified, removed, metadata_changes)`` with lumora_fast's fixed semantics.

    ``added`` / ``modified`` hold the node objects of ``new`` themselves (not copies; for
    a :class:`SchemaDocument`, new plain objects that are not part of it);
    ``metadata_changes`` maps ``"version"`` / ``"theme"`` / ``"navigation"`` to the new
    value (``None`` when removed) for each that changed, or is ``None`` when none did.
    """

def apply_schema_delta(
    schema: object,
    added: Sequence[Any],
    modified: Sequence[Any],
    removed: Sequence[Any],
    metadata_changes: dict[str, Any] | None,
    /,
) -> dict[str, Any]:
    """A new schema dict with the delta applied (device side); ``schema`` is not modified."""

def calculate_schema_patch(
    old: SchemaDocument | object, new: SchemaDocument | object, /
) -> list[dict[str, Any]]:
    """The RFC 6902 ops that turn ``old`` into ``new`` (any JSON values), in order.

    The same list, op for op, as ``lumora_fast.pure``; see ``lumora_fast.patch``. Values
    are objects of ``new`` (not copies; for a :class:`SchemaDocument`, new plain objects
    that are not part of it); a non-finite number is written ``None``.
    """

def apply_schema_patch(schema: object, patch: object, /) -> Any:
    """``schema`` with an RFC 6902 patch applied; the inputs are not modified.

    Only the containers on the paths the ops touch are copied. Raises ``ProtocolError``
    (``"patch op <index>: <reason>"``) for a malformed or failing op, with the same texts
    as ``lumora_fast.pure``.
    """

def schema_problem(document: SchemaDocument, /) -> str | None:
    """Why a document is not a usable Lumora schema (``None`` when it is one).

    A schema is a JSON object with a ``metadata`` object and a ``nodes`` array of
    objects; the texts are ``lumora_fast._shape.value_problem``'s. Raises ``TypeError``
    when ``document`` is not a :class:`SchemaDocument`.
    """

@final
class SchemaTracker:
    """The server's schema tracker: each update walks the new schema once.

    It keeps the current schema object (do not modify it afterwards) and the canonical
    hashes of its array items (at any depth) and top-level members.
    """

    def __new__(cls, algorithm: Literal["sha256", "xxh3"] = "sha256") -> SchemaTracker: ...
    @property
    def schema(self) -> Any:
        """The current schema, the object given to :meth:`update` (a dict or a
        :class:`SchemaDocument`), or ``None`` before the first update."""

    @property
    def checksum(self) -> str | None:
        """The current schema's checksum, or ``None`` before the first update."""

    @overload
    def update(
        self,
        schema: SchemaDocument | object,
        /,
        encoded: Literal[False] = False,
        with_delta: bool = True,
    ) -> tuple[
        str,
        tuple[list[Any], list[Any], list[Any], dict[str, Any] | None] | None,
        bool,
        list[dict[str, Any]] | None,
    ]:
        """Make ``schema`` current: ``(checksum, delta, incremental, patch)``.

        ``schema`` is a dict or a :class:`SchemaDocument` (diffed as its ``to_python()``;
        dicts and documents may follow one another).

        ``delta`` is what ``calculate_schema_delta(previous, schema)`` returns, or
        ``None`` for the first schema and where that function would raise;
        ``incremental`` is whether applying it to the previous schema yields the new
        schema's checksum; ``patch`` is ``calculate_schema_patch(previous, schema)``
        (``None`` for the first schema), computed from the same walk: subtrees whose
        hashes did not change are skipped. Raises ``ProtocolError`` where
        ``calculate_checksum`` or ``calculate_schema_patch`` would (the tracker is then
        unchanged).

        With ``encoded``, the delta and the patch come as JSON, and no Python object is
        made per value: ``(checksum, delta JSON or None, node changes, incremental,
        patch JSON or None, JSON length or None)``. The delta is written as
        ``serialize_message`` writes a ``SchemaDelta`` (``added``, ``modified``,
        ``removed``, then ``metadataChanges`` when there are any), the patch as
        ``dumps`` writes the op list; node changes is the number of added, modified and
        removed nodes (0 without a delta). Without
        ``with_delta`` the delta's JSON is ``None`` (its node changes still counted).
        The JSON length is ``len(dumps(schema))``, known from the checksum's walk
        without writing it; ``None`` where the canonical form hides something (a
        ``__proto__`` key, a surrogate in a key or string, a non-finite number, a
        Struct).
        """

    @overload
    def update(
        self, schema: SchemaDocument | object, /, encoded: Literal[True], with_delta: bool = True
    ) -> tuple[str, bytes | None, int, bool, bytes | None, int | None]: ...
    @overload
    def update(
        self, schema: SchemaDocument | object, /, encoded: bool, with_delta: bool = True
    ) -> (
        tuple[
            str,
            tuple[list[Any], list[Any], list[Any], dict[str, Any] | None] | None,
            bool,
            list[dict[str, Any]] | None,
        ]
        | tuple[str, bytes | None, int, bool, bytes | None, int | None]
    ): ...

@final
class SchemaDocument:
    """An immutable JSON document (a schema, usually): parse once, then hash, diff, write.

    Made by :meth:`parse` or :meth:`from_python` (there is no constructor). Its content
    is a JSON value, and every method gives what the module function of the same name
    gives on :meth:`to_python`. Two documents are equal when ``a.dumps() == b.dumps()``;
    documents are not hashable. ``repr`` is ``<SchemaDocument: N bytes>`` with ``N =
    len(doc.dumps())``.
    """

    __hash__: ClassVar[None]  # type: ignore[assignment]

    @staticmethod
    def parse(
        data: str | bytes | bytearray | memoryview,
        /,
        max_bytes: int | None = None,
        *,
        previous: SchemaDocument | None = None,
    ) -> SchemaDocument:
        """The document of a JSON text, exactly as :func:`loads` parses it (same values,
        same errors); ``bytearray`` and ``memoryview`` are read as ``bytes``.

        ``previous``, the document of the file's previous version, makes it copy what was
        built for the array items whose text did not change instead of parsing them again:
        the same document results. A document parsed from ``bytes`` keeps them (the same
        object, no copy), for the next parse and for :class:`SchemaTracker`, which reuses
        what it wrote for the unchanged items the same way.

        Raises ``TypeError`` for any other type of ``data``, or a ``previous`` that is
        not a document or ``None``.
        """

    @staticmethod
    def from_python(obj: object, /) -> SchemaDocument:
        """``parse(dumps(obj))``: the document of a JSON value (anything :func:`dumps`
        takes, Structs and documents included), as a JSON reader sees its text (``1.0``
        reads back as ``1``, a non-finite number as ``None``, tuples as lists).

        Raises what ``dumps(obj)`` raises for a value that is not JSON.
        """

    @property
    def nbytes(self) -> int:
        """Bytes of memory the document holds (its values, keys and strings). Each
        backend counts its own representation: the numbers differ."""

    def __copy__(self) -> SchemaDocument:
        """Documents are immutable: a copy is the document itself."""

    def __deepcopy__(self, memo: object, /) -> SchemaDocument:
        """Documents are immutable: a copy is the document itself."""

    def to_python(self) -> Any:
        """The content as a new Python value on each call: for a parsed document, equal
        (same key order) to ``loads`` of its text. Changing it does not change the
        document."""

    def dumps(self, /, pretty: bool = False) -> bytes:
        """``dumps(self.to_python(), pretty=pretty)``."""

    def checksum(self, /, algorithm: Literal["sha256", "xxh3"] = "sha256") -> str:
        """``calculate_checksum(self.to_python(), algorithm)``, errors included."""

    def canonical_json(self) -> bytes:
        """``canonical_json(self.to_python())``, errors included."""

    def __eq__(self, other: object, /) -> bool: ...
