"""Message, protocol-version and session-id validation with the reference's exact results."""

from __future__ import annotations

from msgspec import Struct

from . import _backend
from .constants import PROTOCOL_VERSION

__all__ = [
    "ValidationResult",
    "validate_message",
    "validate_protocol_version",
    "validate_session_id",
]


class ValidationResult(Struct, frozen=True):
    """The outcome of a check: ``valid`` is true exactly when ``errors`` is empty."""

    valid: bool
    errors: list[str]

    @classmethod
    def from_errors(cls, errors: list[str]) -> ValidationResult:
        return cls(valid=not errors, errors=errors)


def validate_message(message: object) -> ValidationResult:
    """Validate a message the way the reference's ``validateMessage`` does.

    Args:
        message: Parsed JSON (any value) or a message Struct.

    Returns:
        The result, with the reference's error strings in the reference's order.

    Raises:
        ProtocolError: Where the reference throws (a ``type`` whose string conversion
            meets an object with its own ``toString`` key), or for a value that is not
            JSON.
    """
    return ValidationResult.from_errors(_backend.core.validate_message(message))


def validate_protocol_version(
    client_version: str, server_version: str = PROTOCOL_VERSION
) -> ValidationResult:
    """Check that a client's protocol version is compatible with the server's.

    The major versions must match; a different minor version is also reported, as the
    reference does. Each part is read with JavaScript's ``Number()``.

    Raises:
        TypeError: If either version is not a ``str``.
    """
    return ValidationResult.from_errors(
        _backend.core.validate_protocol_version(client_version, server_version)
    )


def validate_session_id(session_id: object) -> ValidationResult:
    """Check a session id: a non-empty string of 8 to 128 UTF-16 code units."""
    return ValidationResult.from_errors(_backend.core.validate_session_id(session_id))
