"""lumora_fast: the fast, byte-compatible Python implementation of the Lumora hot-reload protocol.

The protocol layer (this namespace) mirrors the reference TypeScript module
``@lumora/ir/protocol``: message Structs, ``create_*`` builders, ``serialize_message`` /
``deserialize_message``, validation, checksums and schema deltas. Hot paths run in a Rust
core (``lumora_fast._core``); ``lumora_fast.pure`` is the pure-Python twin
(``LUMORA_FAST_PURE=1`` selects it).
"""

from __future__ import annotations

from ._backend import BACKEND
from ._version import __version__
from .builders import (
    create_ack_message,
    create_connect_message,
    create_connected_message,
    create_error_message,
    create_full_update,
    create_incremental_update,
    create_ping_message,
    create_pong_message,
    create_reload_message,
    create_update_message,
    is_ack_message,
    is_connect_message,
    is_connected_message,
    is_error_message,
    is_ping_message,
    is_pong_message,
    is_reload_message,
    is_update_message,
)
from .checksum import ChecksumAlgorithm, calculate_checksum, canonical_json, validate_checksum
from .codec import deserialize_message, serialize_message
from .constants import (
    MAX_DEPTH,
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    CloseCode,
    ProtocolErrorCode,
)
from .delta import apply_schema_delta, calculate_schema_delta, should_use_incremental_update
from .errors import ProtocolError
from .messages import (
    AckMessage,
    AckPayload,
    Capabilities,
    ConnectedMessage,
    ConnectedPayload,
    ConnectMessage,
    ConnectPayload,
    ErrorMessage,
    ErrorPayload,
    Message,
    MessageType,
    MetadataChanges,
    PingMessage,
    PingPayload,
    PongMessage,
    PongPayload,
    ReloadMessage,
    ReloadPayload,
    Schema,
    SchemaDelta,
    SchemaUpdate,
    UpdateMessage,
)
from .tracker import SchemaChange, SchemaTracker
from .validation import (
    ValidationResult,
    validate_message,
    validate_protocol_version,
    validate_session_id,
)

__all__ = [
    "BACKEND",
    "MAX_DEPTH",
    "MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSION",
    "AckMessage",
    "AckPayload",
    "Capabilities",
    "ChecksumAlgorithm",
    "CloseCode",
    "ConnectMessage",
    "ConnectPayload",
    "ConnectedMessage",
    "ConnectedPayload",
    "ErrorMessage",
    "ErrorPayload",
    "Message",
    "MessageType",
    "MetadataChanges",
    "PingMessage",
    "PingPayload",
    "PongMessage",
    "PongPayload",
    "ProtocolError",
    "ProtocolErrorCode",
    "ReloadMessage",
    "ReloadPayload",
    "Schema",
    "SchemaChange",
    "SchemaDelta",
    "SchemaTracker",
    "SchemaUpdate",
    "UpdateMessage",
    "ValidationResult",
    "__version__",
    "apply_schema_delta",
    "calculate_checksum",
    "calculate_schema_delta",
    "canonical_json",
    "create_ack_message",
    "create_connect_message",
    "create_connected_message",
    "create_error_message",
    "create_full_update",
    "create_incremental_update",
    "create_ping_message",
    "create_pong_message",
    "create_reload_message",
    "create_update_message",
    "deserialize_message",
    "is_ack_message",
    "is_connect_message",
    "is_connected_message",
    "is_error_message",
    "is_ping_message",
    "is_pong_message",
    "is_reload_message",
    "is_update_message",
    "serialize_message",
    "should_use_incremental_update",
    "validate_checksum",
    "validate_message",
    "validate_protocol_version",
    "validate_session_id",
]
