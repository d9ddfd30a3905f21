"""Protocol constants: version, error codes, limits and WebSocket close codes."""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "CONNECT_TIMEOUT_MS",
    "HEARTBEAT_INTERVAL_MS",
    "HEARTBEAT_MISSED_LIMIT",
    "INCREMENTAL_THRESHOLD",
    "MAX_DEPTH",
    "MAX_INBOUND_BYTES",
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

MAX_INBOUND_BYTES = 1024 * 1024
"""Largest frame a server accepts from a device (1 MiB), checked before any parsing.

Devices only send small messages (connect, ack, ping, reload, error), so a server caps
what it reads far below :data:`MAX_MESSAGE_BYTES`, which bounds the updates it sends; a
larger frame closes the connection with :attr:`CloseCode.MESSAGE_TOO_BIG`."""

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
CONNECT_TIMEOUT_MS = 10_000
"""A connection that sends no ``connect`` this long after opening is closed, long
before the heartbeat timeout would notice it."""
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
    """WebSocket close codes: the reference server's, plus two standard ones."""

    NORMAL = 1000
    """Also a timeout: no ``connect``, or no heartbeat (reason "Connection timeout")."""
    POLICY_VIOLATION = 1008
    """Rate-limit abuse (standard code; the reference has no rate limit)."""
    MESSAGE_TOO_BIG = 1009
    """A frame over the server's inbound limit (standard code; the reference has none)."""
    SESSION_REQUIRED = 4400
    """No ``session`` query parameter, or a message for another session."""
    NOT_CONNECTED = 4401
    """A message other than ``connect`` arrived before ``connect``."""
    SESSION_NOT_FOUND = 4404
    SESSION_EXPIRED = 4410
    UNSUPPORTED_VERSION = 4426
