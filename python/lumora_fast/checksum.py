"""Schema checksums, byte-identical to the reference's ``calculateChecksum``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from . import _backend
from .validation import ValidationResult

if TYPE_CHECKING:
    from ._core import SchemaDocument

__all__ = ["ChecksumAlgorithm", "calculate_checksum", "canonical_json", "validate_checksum"]

ChecksumAlgorithm: TypeAlias = Literal["sha256", "xxh3"]


def calculate_checksum(
    schema: dict[str, Any] | SchemaDocument, *, algorithm: ChecksumAlgorithm = "sha256"
) -> str:
    """Checksum of a schema, ignoring ``metadata.generatedAt``.

    Args:
        schema: A Lumora IR schema (parsed JSON; it must have a ``metadata`` object), or
            a :class:`~lumora_fast.SchemaDocument` of one (``schema.checksum(algorithm)``
            gives the same).
        algorithm: ``"sha256"`` (the reference's checksum: 64 lowercase hex digits) or
            ``"xxh3"`` (XXH3-128 over the same canonical bytes, as ``"xxh3:<32 hex>"``).

    The native backend streams the canonical form into the hasher; once it outgrows
    256 KB, SHA-256 runs on a helper thread while the writer goes on (the GIL stays
    held, and the thread ends before the call returns).

    Raises:
        ProtocolError: The schema is not an object with a ``metadata`` object (where the
            reference throws), holds a value that is not JSON (the message names its
            path), or nests deeper than :data:`~lumora_fast.MAX_DEPTH`.
        ValueError: Unknown ``algorithm``.
    """
    return _backend.core.calculate_checksum(schema, algorithm)


def canonical_json(schema: dict[str, Any] | SchemaDocument) -> bytes:
    """The exact bytes :func:`calculate_checksum` hashes, for debugging a mismatch.

    ``schema`` is a dict or a :class:`~lumora_fast.SchemaDocument`.

    Keys sorted as JavaScript sorts them (UTF-16 code units, array-index keys first),
    ``metadata.generatedAt`` set to 0, ``__proto__`` keys dropped, JS number formatting.
    """
    return _backend.core.canonical_json(schema)


def validate_checksum(
    schema: dict[str, Any] | SchemaDocument,
    expected: str,
    *,
    algorithm: ChecksumAlgorithm = "sha256",
) -> ValidationResult:
    """Compare a schema's checksum with ``expected`` (exact, case-sensitive).

    ``schema`` is a dict or a :class:`~lumora_fast.SchemaDocument`.

    Returns:
        A valid result, or one error ``"Checksum mismatch: expected <expected>, got
        <actual>"`` as the reference reports it.
    """
    if not isinstance(expected, str):
        raise TypeError(f"expected checksum must be a str, not {type(expected).__name__}")
    actual = _backend.core.calculate_checksum(schema, algorithm)
    if actual == expected:
        return ValidationResult(valid=True, errors=[])
    return ValidationResult(
        valid=False, errors=[f"Checksum mismatch: expected {expected}, got {actual}"]
    )
