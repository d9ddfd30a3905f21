"""Protocol messages as msgspec Structs.

Every message is a frozen, keyword-only Struct. On the wire the fields are camelCase and
appear in the reference's order (``type, sessionId, timestamp, version, payload``); an
optional field that is :data:`msgspec.UNSET` is omitted, exactly as ``JSON.stringify``
omits ``undefined``. :data:`Message` is the tagged union of the eight message types,
discriminated by ``type``.

Schemas (Lumora IR) stay plain ``dict`` objects. Numbers are ``int | float`` where the
reference has a JS ``number``: JavaScript has only doubles, so ``5`` and ``5.0`` are the
same value on the wire.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from msgspec import UNSET, Struct, UnsetType

__all__ = [
    "AckMessage",
    "AckPayload",
    "Capabilities",
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
    "ReloadMessage",
    "ReloadPayload",
    "ResumeState",
    "Schema",
    "SchemaDelta",
    "SchemaUpdate",
    "UpdateMessage",
]

Schema: TypeAlias = dict[str, Any]
"""A Lumora IR schema: parsed JSON, kept as a plain dict."""

Number: TypeAlias = int | float
MessageType: TypeAlias = Literal[
    "connect", "connected", "update", "reload", "error", "ping", "pong", "ack"
]


class _Struct(Struct, frozen=True, kw_only=True, rename="camel"):
    """Shared configuration: immutable, keyword-only, camelCase on the wire."""


# ---------------------------------------------------------------------------- payloads


class DeviceCapabilities(_Struct, frozen=True, kw_only=True):
    """Extension: what a device can do, sent in ``connect`` (the reference ignores it)."""

    update_types: list[str] | UnsetType = UNSET
    """Update types the device applies: ``"full"``, ``"incremental"``, ``"patch"``. A
    device that does not list ``"patch"`` never receives a patch update."""


class ResumeState(_Struct, frozen=True, kw_only=True):
    """Extension: where a reconnecting device left off (see docs/architecture.md, "Extensions")."""

    sequence_number: Number
    """Sequence number of the last update the device applied."""
    checksum: str
    """Checksum of the schema it shows, as the server sent it with that update."""


class ConnectPayload(_Struct, frozen=True, kw_only=True):
    device_id: str
    platform: str
    """``"ios"``, ``"android"`` or ``"web"`` (the reference accepts any string)."""
    device_name: str | UnsetType = UNSET
    client_version: str
    capabilities: DeviceCapabilities | UnsetType = UNSET
    """Extension: the update types the device applies."""
    resume: ResumeState | UnsetType = UNSET
    """Extension: resume from this update instead of receiving ``initialSchema``."""


class Capabilities(_Struct, frozen=True, kw_only=True):
    incremental_updates: bool
    compression: bool
    state_preservation: bool
    checksum_algorithms: list[str] | UnsetType = UNSET
    """Extension: checksum algorithms the server offers (``"sha256"``, ``"xxh3"``)."""
    update_types: list[str] | UnsetType = UNSET
    """Extension: update types the server sends this device (present when the device
    listed its own in ``connect``)."""


class ConnectedPayload(_Struct, frozen=True, kw_only=True):
    connection_id: str
    initial_schema: Schema | UnsetType = UNSET
    capabilities: Capabilities
    resumed: bool | UnsetType = UNSET
    """Extension: ``True`` when the device's ``resume`` was accepted: no
    ``initialSchema``, the missed updates follow as patches."""


class MetadataChanges(_Struct, frozen=True, kw_only=True):
    """Schema-level changes carried by a delta; ``None`` means the key was removed."""

    version: Any | UnsetType = UNSET
    theme: Any | UnsetType = UNSET
    navigation: Any | UnsetType = UNSET


class SchemaDelta(_Struct, frozen=True, kw_only=True):
    """Node-level changes between two schemas (see :func:`calculate_schema_delta`)."""

    added: list[dict[str, Any]]
    """New top-level nodes, in the new schema's order."""
    modified: list[dict[str, Any]]
    """Top-level nodes whose content changed (full replacement nodes)."""
    removed: list[Any]
    """Ids of top-level nodes that are gone, in the old schema's order."""
    metadata_changes: MetadataChanges | UnsetType = UNSET


class SchemaUpdate(_Struct, frozen=True, kw_only=True):
    """The payload of an ``update`` message: a full schema, a delta or a patch."""

    type: Literal["full", "incremental", "patch"]
    schema: Schema | UnsetType = UNSET
    delta: SchemaDelta | UnsetType = UNSET
    patch: list[dict[str, Any]] | UnsetType = UNSET
    """Extension: RFC 6902 operations that turn the previous schema into this one
    (``type: "patch"``, sent only to devices that asked for patches)."""
    preserve_state: bool
    sequence_number: Number
    checksum: str | UnsetType = UNSET
    """Checksum of the schema that results from applying this update."""
    error_cleared: bool | UnsetType = UNSET
    """Extension: ``True`` on the first update after a refused save: the error the
    device was shown (``SCHEMA_VALIDATION_FAILED``) is resolved."""


class ReloadPayload(_Struct, frozen=True, kw_only=True):
    reason: Literal["error", "manual", "incompatible"]
    error: str | UnsetType = UNSET


class ErrorPayload(_Struct, frozen=True, kw_only=True):
    code: str
    """A :class:`~lumora_fast.ProtocolErrorCode` value (the reference accepts any string)."""
    message: str
    severity: Literal["warning", "error", "fatal"]
    details: str | UnsetType = UNSET
    recoverable: bool


class PingPayload(_Struct, frozen=True, kw_only=True):
    status: Literal["idle", "rendering", "updating"] | UnsetType = UNSET


class PongPayload(_Struct, frozen=True, kw_only=True):
    server_time: Number


class AckPayload(_Struct, frozen=True, kw_only=True):
    sequence_number: Number
    success: bool
    error: str | UnsetType = UNSET
    apply_time: Number | UnsetType = UNSET


# ---------------------------------------------------------------------------- messages


class _Message(_Struct, frozen=True, kw_only=True, tag_field="type"):
    session_id: str
    timestamp: Number
    """Unix time in milliseconds."""
    version: str


class ConnectMessage(_Message, frozen=True, kw_only=True, tag="connect"):
    payload: ConnectPayload


class ConnectedMessage(_Message, frozen=True, kw_only=True, tag="connected"):
    payload: ConnectedPayload


class UpdateMessage(_Message, frozen=True, kw_only=True, tag="update"):
    payload: SchemaUpdate


class ReloadMessage(_Message, frozen=True, kw_only=True, tag="reload"):
    payload: ReloadPayload


class ErrorMessage(_Message, frozen=True, kw_only=True, tag="error"):
    payload: ErrorPayload


class PingMessage(_Message, frozen=True, kw_only=True, tag="ping"):
    payload: PingPayload | UnsetType = UNSET


class PongMessage(_Message, frozen=True, kw_only=True, tag="pong"):
    payload: PongPayload | UnsetType = UNSET


class AckMessage(_Message, frozen=True, kw_only=True, tag="ack"):
    payload: AckPayload


Message: TypeAlias = (
    ConnectMessage
    | ConnectedMessage
    | UpdateMessage
    | ReloadMessage
    | ErrorMessage
    | PingMessage
    | PongMessage
    | AckMessage
)
"""Any protocol message (a union tagged by ``type``)."""
