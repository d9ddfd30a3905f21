"""Message builders and type guards, mirroring the reference's ``create*`` functions.

Each builder returns a message Struct whose serialization (``serialize_message``) is
byte-identical to the reference's ``JSON.stringify`` of the same call. Optional arguments
left as ``None`` are omitted from the wire, as ``undefined`` is; ``""``, ``0`` and
``False`` are kept. Every builder takes ``timestamp=`` (Unix ms) for reproducible output;
by default it is the current time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal, TypeGuard

from msgspec import UNSET

from .checksum import ChecksumAlgorithm, calculate_checksum
from .constants import PROTOCOL_VERSION, ProtocolErrorCode
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
    Number,
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

__all__ = [
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
]


def _now(timestamp: Number | None) -> Number:
    return time.time_ns() // 1_000_000 if timestamp is None else timestamp


def _opt(value: Any) -> Any:
    return UNSET if value is None else value


def create_connect_message(
    session_id: str,
    device_id: str,
    platform: str,
    device_name: str | None = None,
    *,
    timestamp: Number | None = None,
    update_types: Sequence[str] | None = None,
    resume: tuple[Number, str] | None = None,
) -> ConnectMessage:
    """The device's first message: who it is and which protocol version it speaks.

    Args:
        update_types: Extension: the update types the device applies, sent as
            ``capabilities.updateTypes`` (omitted by default, as in the reference). List
            ``"patch"`` to receive patch updates.
        resume: Extension: ``(sequence_number, checksum)`` of the last update applied,
            sent as ``resume``: a server that still has the updates since then sends
            them as patches instead of ``initialSchema``.
    """
    return ConnectMessage(
        session_id=session_id,
        timestamp=_now(timestamp),
        version=PROTOCOL_VERSION,
        payload=ConnectPayload(
            device_id=device_id,
            platform=platform,
            device_name=_opt(device_name),
            client_version=PROTOCOL_VERSION,
            capabilities=(
                UNSET
                if update_types is None
                else DeviceCapabilities(update_types=list(update_types))
            ),
            resume=(
                UNSET
                if resume is None
                else ResumeState(sequence_number=resume[0], checksum=resume[1])
            ),
        ),
    )


def create_connected_message(
    session_id: str,
    connection_id: str,
    initial_schema: Schema | None = None,
    *,
    timestamp: Number | None = None,
    checksum_algorithms: Sequence[str] | None = None,
    update_types: Sequence[str] | None = None,
    resumed: bool = False,
) -> ConnectedMessage:
    """The server's answer to ``connect``, carrying the current schema if there is one.

    Args:
        checksum_algorithms: Extension: advertise these checksum algorithms in
            ``capabilities.checksumAlgorithms`` (omitted by default, as in the reference).
        update_types: Extension: the update types this device will be sent, as
            ``capabilities.updateTypes`` (omitted by default).
        resumed: Extension: the device's ``resume`` was accepted (``"resumed": true``;
            pass no ``initial_schema`` then).
    """
    return ConnectedMessage(
        session_id=session_id,
        timestamp=_now(timestamp),
        version=PROTOCOL_VERSION,
        payload=ConnectedPayload(
            connection_id=connection_id,
            initial_schema=_opt(initial_schema),
            capabilities=Capabilities(
                incremental_updates=True,
                compression=False,
                state_preservation=True,
                checksum_algorithms=(
                    UNSET if checksum_algorithms is None else list(checksum_algorithms)
                ),
                update_types=UNSET if update_types is None else list(update_types),
            ),
            resumed=True if resumed else UNSET,
        ),
    )


def create_update_message(
    session_id: str, update: SchemaUpdate, *, timestamp: Number | None = None
) -> UpdateMessage:
    """Wrap a :class:`SchemaUpdate` (full or incremental) in an ``update`` message."""
    return UpdateMessage(
        session_id=session_id, timestamp=_now(timestamp), version=PROTOCOL_VERSION, payload=update
    )


def create_full_update(
    schema: Schema,
    sequence_number: Number,
    preserve_state: bool = True,
    *,
    checksum: str | None = None,
    algorithm: ChecksumAlgorithm = "sha256",
) -> SchemaUpdate:
    """A full update carrying the whole schema and its checksum.

    Args:
        checksum: The schema's checksum when the caller already has it (the server's
            tracker computes it while diffing); computed with ``algorithm`` otherwise.

    Raises:
        ProtocolError: The schema has no ``metadata`` object (the reference throws too).
    """
    return SchemaUpdate(
        type="full",
        schema=schema,
        preserve_state=preserve_state,
        sequence_number=sequence_number,
        checksum=calculate_checksum(schema, algorithm=algorithm) if checksum is None else checksum,
    )


def create_incremental_update(
    delta: SchemaDelta,
    sequence_number: Number,
    preserve_state: bool = True,
    *,
    checksum: str | None = None,
) -> SchemaUpdate:
    """An incremental update carrying a delta.

    Args:
        checksum: Extension: the checksum of the schema that applying ``delta`` yields,
            so the device can verify it. Omitted (as in the reference) when ``None``.
    """
    return SchemaUpdate(
        type="incremental",
        delta=delta,
        preserve_state=preserve_state,
        sequence_number=sequence_number,
        checksum=_opt(checksum),
    )


def create_patch_update(
    patch: list[dict[str, Any]],
    sequence_number: Number,
    preserve_state: bool = True,
    *,
    checksum: str,
) -> SchemaUpdate:
    """Extension: a patch update, RFC 6902 operations from the previous schema.

    Args:
        patch: The operations (see :func:`~lumora_fast.calculate_schema_patch`).
        checksum: The checksum of the schema that applying ``patch`` yields; a device
            verifies it, so it is required.
    """
    return SchemaUpdate(
        type="patch",
        patch=patch,
        preserve_state=preserve_state,
        sequence_number=sequence_number,
        checksum=checksum,
    )


def create_reload_message(
    session_id: str,
    reason: Literal["error", "manual", "incompatible"],
    error: str | None = None,
    *,
    timestamp: Number | None = None,
) -> ReloadMessage:
    """Ask the other side for a full reload."""
    return ReloadMessage(
        session_id=session_id,
        timestamp=_now(timestamp),
        version=PROTOCOL_VERSION,
        payload=ReloadPayload(reason=reason, error=_opt(error)),
    )


def create_error_message(
    session_id: str,
    code: ProtocolErrorCode | str,
    message: str,
    severity: Literal["warning", "error", "fatal"],
    recoverable: bool,
    details: str | None = None,
    *,
    timestamp: Number | None = None,
) -> ErrorMessage:
    """Report an error to the other side."""
    return ErrorMessage(
        session_id=session_id,
        timestamp=_now(timestamp),
        version=PROTOCOL_VERSION,
        payload=ErrorPayload(
            code=str(code),
            message=message,
            severity=severity,
            details=_opt(details),
            recoverable=recoverable,
        ),
    )


def create_ping_message(
    session_id: str,
    status: Literal["idle", "rendering", "updating"] | None = None,
    *,
    timestamp: Number | None = None,
) -> PingMessage:
    """The device's heartbeat; the payload is omitted when ``status`` is empty."""
    return PingMessage(
        session_id=session_id,
        timestamp=_now(timestamp),
        version=PROTOCOL_VERSION,
        payload=PingPayload(status=status) if status else UNSET,
    )


def create_pong_message(session_id: str, *, timestamp: Number | None = None) -> PongMessage:
    """The server's answer to ``ping``; ``serverTime`` is the same clock reading."""
    now = _now(timestamp)
    return PongMessage(
        session_id=session_id,
        timestamp=now,
        version=PROTOCOL_VERSION,
        payload=PongPayload(server_time=now),
    )


def create_ack_message(
    session_id: str,
    sequence_number: Number,
    success: bool,
    error: str | None = None,
    apply_time: Number | None = None,
    *,
    timestamp: Number | None = None,
) -> AckMessage:
    """The device's acknowledgement of an update (``apply_time`` in ms)."""
    return AckMessage(
        session_id=session_id,
        timestamp=_now(timestamp),
        version=PROTOCOL_VERSION,
        payload=AckPayload(
            sequence_number=sequence_number,
            success=success,
            error=_opt(error),
            apply_time=_opt(apply_time),
        ),
    )


def is_connect_message(message: object) -> TypeGuard[ConnectMessage]:
    """True for a ``connect`` message."""
    return isinstance(message, ConnectMessage)


def is_connected_message(message: object) -> TypeGuard[ConnectedMessage]:
    """True for a ``connected`` message."""
    return isinstance(message, ConnectedMessage)


def is_update_message(message: object) -> TypeGuard[UpdateMessage]:
    """True for an ``update`` message."""
    return isinstance(message, UpdateMessage)


def is_reload_message(message: object) -> TypeGuard[ReloadMessage]:
    """True for a ``reload`` message."""
    return isinstance(message, ReloadMessage)


def is_error_message(message: object) -> TypeGuard[ErrorMessage]:
    """True for an ``error`` message."""
    return isinstance(message, ErrorMessage)


def is_ping_message(message: object) -> TypeGuard[PingMessage]:
    """True for a ``ping`` message."""
    return isinstance(message, PingMessage)


def is_pong_message(message: object) -> TypeGuard[PongMessage]:
    """True for a ``pong`` message."""
    return isinstance(message, PongMessage)


def is_ack_message(message: object) -> TypeGuard[AckMessage]:
    """True for an ``ack`` message."""
    return isinstance(message, AckMessage)
