"""lumora_fast: the fast, byte-compatible Python implementation of the Lumora hot-reload protocol.

The protocol layer (this namespace) mirrors the reference TypeScript module
``@lumora/ir/protocol``: message Structs, ``create_*`` builders, ``serialize_message`` /
``deserialize_message``, validation, checksums and schema deltas, plus (an extension)
schema patches. Hot paths run in a Rust core (``lumora_fast._core``); ``lumora_fast.pure``
is the pure-Python twin (``LUMORA_FAST_PURE=1`` selects it).

Importing the package is cheap (it loads the native module and nothing else): each public
name is imported from its submodule on first use, so ``msgspec`` and the protocol modules
load when a program first touches one of them, and ``asyncio``, ``websockets`` and
``watchdog`` only with ``lumora_fast.asyncio`` (the server and the device) or the CLI.
"""

from ._backend import BACKEND
from ._version import __version__

# Type checkers treat any name ``TYPE_CHECKING`` as true (``typing`` itself is not cheap).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .builders import (
        create_ack_message,
        create_connect_message,
        create_connected_message,
        create_error_message,
        create_full_update,
        create_incremental_update,
        create_patch_update,
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
    from .codec import SchemaDocument, deserialize_message, serialize_message
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
        DeviceCapabilities,
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
        ResumeState,
        Schema,
        SchemaDelta,
        SchemaUpdate,
        UpdateMessage,
    )
    from .patch import apply_schema_patch, calculate_schema_patch
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
    "DeviceCapabilities",
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
    "ResumeState",
    "Schema",
    "SchemaChange",
    "SchemaDelta",
    "SchemaDocument",
    "SchemaTracker",
    "SchemaUpdate",
    "UpdateMessage",
    "ValidationResult",
    "__version__",
    "apply_schema_delta",
    "apply_schema_patch",
    "calculate_checksum",
    "calculate_schema_delta",
    "calculate_schema_patch",
    "canonical_json",
    "create_ack_message",
    "create_connect_message",
    "create_connected_message",
    "create_error_message",
    "create_full_update",
    "create_incremental_update",
    "create_patch_update",
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

# Where each lazily imported name lives: submodule -> names.
_SUBMODULES = {
    "builders": (
        "create_ack_message",
        "create_connect_message",
        "create_connected_message",
        "create_error_message",
        "create_full_update",
        "create_incremental_update",
        "create_patch_update",
        "create_ping_message",
        "create_pong_message",
        "create_reload_message",
        "create_update_message",
        "is_ack_message",
        "is_connect_message",
        "is_connected_message",
        "is_error_message",
        "is_ping_message",
        "is_pong_message",
        "is_reload_message",
        "is_update_message",
    ),
    "checksum": (
        "ChecksumAlgorithm",
        "calculate_checksum",
        "canonical_json",
        "validate_checksum",
    ),
    "codec": (
        "SchemaDocument",
        "deserialize_message",
        "serialize_message",
    ),
    "constants": (
        "MAX_DEPTH",
        "MAX_MESSAGE_BYTES",
        "PROTOCOL_VERSION",
        "CloseCode",
        "ProtocolErrorCode",
    ),
    "delta": (
        "apply_schema_delta",
        "calculate_schema_delta",
        "should_use_incremental_update",
    ),
    "errors": ("ProtocolError",),
    "messages": (
        "AckMessage",
        "AckPayload",
        "Capabilities",
        "ConnectedMessage",
        "ConnectedPayload",
        "ConnectMessage",
        "ConnectPayload",
        "DeviceCapabilities",
        "ErrorMessage",
        "ErrorPayload",
        "Message",
        "MessageType",
        "MetadataChanges",
        "PingMessage",
        "PingPayload",
        "PongMessage",
        "PongPayload",
        "ReloadMessage",
        "ReloadPayload",
        "ResumeState",
        "Schema",
        "SchemaDelta",
        "SchemaUpdate",
        "UpdateMessage",
    ),
    "patch": (
        "apply_schema_patch",
        "calculate_schema_patch",
    ),
    "tracker": (
        "SchemaChange",
        "SchemaTracker",
    ),
    "validation": (
        "ValidationResult",
        "validate_message",
        "validate_protocol_version",
        "validate_session_id",
    ),
}
_LAZY = {name: module for module, names in _SUBMODULES.items() for name in names}

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        """Import a public name from its submodule on first use (PEP 562)."""
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from importlib import import_module  # noqa: PLC0415 - only on first use

        value = getattr(import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})


del TYPE_CHECKING
