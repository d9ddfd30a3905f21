"""Protocol constants: version, error codes, limits and WebSocket close codes."""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "HEARTBEAT_INTERVAL_MS",
    "HEARTBEAT_MISSED_LIMIT",
    "INCREMENTAL_THRESHOLD",
    "MAX_DEPTH",
    "MAX_MESSAGES_PER_SECOND",
    "MAX_MESSAGE_BYTES",
    "MAX_UPDATES_PER_SECOND",
    "PROTOCOL_VERSION",
    "RECONNECT_INITIAL_MS",
    "RECONNECT_MAX_MS",
    "SESSION_TIMEOUT_MS",
    "UPDATE_DEBOUNCE_MS",
    "CloseCode",
    "ProtocolErrorCode",
]

PROTOCOL_VERSION = "1.0.0"
"""The protocol version this package speaks (the reference's ``PROTOCOL_VERSION``)."""

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
"""Largest message accepted, in UTF-8 bytes; checked before any parsing."""

MAX_DEPTH = 512
"""Deepest JSON nesting (arrays and objects) accepted anywhere; deeper input raises
:class:`~lumora_fast.errors.ProtocolError` instead of exhausting the stack."""

INCREMENTAL_THRESHOLD = 10
"""An update is sent incrementally when ``0 < node changes < INCREMENTAL_THRESHOLD``."""

MAX_UPDATES_PER_SECOND = 10
UPDATE_DEBOUNCE_MS = 100
MAX_MESSAGES_PER_SECOND = 100
HEARTBEAT_INTERVAL_MS = 30_000
HEARTBEAT_MISSED_LIMIT = 3
SESSION_TIMEOUT_MS = 8 * 60 * 60 * 1000
RECONNECT_INITIAL_MS = 1_000
RECONNECT_MAX_MS = 30_000


class ProtocolErrorCode(StrEnum):
    """Error codes carried by ``error`` messages (the reference's 10 values)."""

    INVALID_MESSAGE = "INVALID_MESSAGE"
    UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"
    SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
    SESSION_EXPIRED = "SESSION_EXPIRED"
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    SCHEMA_VALIDATION_FAILED = "SCHEMA_VALIDATION_FAILED"
    UPDATE_FAILED = "UPDATE_FAILED"
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class CloseCode(IntEnum):
    """WebSocket close codes used by the reference server."""

    NORMAL = 1000
    SESSION_REQUIRED = 4400
    """No ``session`` query parameter, or a message for another session."""
    NOT_CONNECTED = 4401
    """A message other than ``connect`` arrived before ``connect``."""
    SESSION_NOT_FOUND = 4404
    SESSION_EXPIRED = 4410
    UNSUPPORTED_VERSION = 4426
