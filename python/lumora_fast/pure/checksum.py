"""Schema checksums: sha256 (the reference's) or xxh3-128 over the canonical JSON."""

from __future__ import annotations

import hashlib

from .canonical import canonical_json

__all__ = ["calculate_checksum", "check_algorithm"]

_ALGORITHMS = ("sha256", "xxh3")


def check_algorithm(algorithm: object) -> None:
    """Raise ``TypeError`` / ``ValueError`` unless ``algorithm`` names a checksum."""
    if not isinstance(algorithm, str):
        raise TypeError(f"algorithm must be a str, not {type(algorithm).__name__}")
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"unknown checksum algorithm {algorithm!r} (expected 'sha256' or 'xxh3')")


def calculate_checksum(schema: object, /, algorithm: str = "sha256") -> str:
    """Checksum of the canonical JSON of ``schema``.

    Args:
        schema: A schema dict with a ``metadata`` object, or a ``SchemaDocument`` of one
            (:func:`canonical_json` unwraps it).
        algorithm: ``"sha256"`` (64 lowercase hex digits, as the reference) or
            ``"xxh3"`` (``"xxh3:"`` + 32 lowercase hex digits of XXH3-128).

    Returns:
        The checksum string.

    Raises:
        ProtocolError: Where the reference throws (see :func:`canonical_json`).
        TypeError: ``algorithm`` is not a ``str``.
        ValueError: Unknown ``algorithm``.
        ImportError: ``"xxh3"`` without the ``xxhash`` package installed.
    """
    check_algorithm(algorithm)
    data = canonical_json(schema)
    if algorithm == "sha256":
        return hashlib.sha256(data).hexdigest()
    try:
        import xxhash  # noqa: PLC0415 - optional dependency, only for this algorithm
    except ImportError as exc:
        raise ImportError(
            "the pure-Python backend needs the `xxhash` package for algorithm='xxh3' "
            "(pip install xxhash)"
        ) from exc
    return "xxh3:" + xxhash.xxh3_128_hexdigest(data)
